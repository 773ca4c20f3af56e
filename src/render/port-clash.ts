import { InvalidParameter } from '../errors';
import type { Route } from '../route/route';
import type { InvalidRoute } from './types';
import { srcPortName } from './view';

/**
 * Whether `route`, rendered with the others, takes a port it cannot have: the render reports it
 * (a port of the API, HTTP or stats frontend, or one another route holds), or the render reports
 * a route that was served until now, because services take a shared port in name order and this
 * one came first. Either way it is the new route that is refused, naming its srcPort.
 */
export function portClash(route: Route, problems: readonly InvalidRoute[], invalidBefore: ReadonlySet<string>): InvalidParameter | undefined {
  for (const problem of problems) {
    if (problem.port === undefined) continue;
    if (problem.serviceName === route.serviceName) return new InvalidParameter(problem.parameter ?? 'srcPort', problem.reason.replace(/^srcPort /, 'port '));
    const destination = route.destinations.find((d) => d.srcPort === problem.port);
    if (destination && !invalidBefore.has(problem.serviceName)) {
      return new InvalidParameter(srcPortName(destination), `port ${problem.port} is already taken by service ${problem.serviceName}`);
    }
  }
  return undefined;
}
