import type * as http from 'http';
import type { Duplex } from 'stream';

/**
 * Requests Node's HTTP parser refuses before express sees them (a query string or headers beyond
 * the 16 KB limit, a malformed request line) get a JSON answer like every other error, instead of
 * Node's default bare status line with an empty body.
 */
export function answerClientErrorsWithJson(server: http.Server): void {
  server.on('clientError', (error: NodeJS.ErrnoException, socket: Duplex) => {
    if (!socket.writable || ('_httpMessage' in socket && socket._httpMessage)) {
      socket.destroy();
      return;
    }
    const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const message = tooLarge ? 'request line and headers too large (over 16 KB): send the route as a PUT or POST body' : 'malformed HTTP request';
    const body = JSON.stringify({ status: 'NOK', message });
    const reason = tooLarge ? 'Request Header Fields Too Large' : 'Bad Request';
    const head = [
      `HTTP/1.1 ${status} ${reason}`,
      'Content-Type: application/json; charset=utf-8',
      `Content-Length: ${Buffer.byteLength(body)}`,
      'Connection: close',
    ];
    socket.end(`${head.join('\r\n')}\r\n\r\n${body}`);
  });
}
