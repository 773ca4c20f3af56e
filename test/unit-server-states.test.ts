import { parseServerStates } from '../src/haproxy/runtime-api';

const HEADER =
  '# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status ' +
  'srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl ' +
  'srv_check_port srv_check_addr srv_agent_addr srv_agent_port';

const line = (backend: string, server: string, address: string, fqdn: string, port: number) =>
  `3 ${backend} 1 ${server} ${address} 2 0 1 1 12 1 0 0 0 0 0 0 ${fqdn} ${port} - 0 0 - - 0`;

describe('parseServerStates: the answer to show servers state', () => {
  it('gives each server with its backend, address, port and host name (none for -), in order', () => {
    const answer = ['1', HEADER, line('a-be80', 'a', '10.0.0.1', '-', 80), `  ${line('b-be81', 'b', '10.0.0.2', 'b.test', 81)} \r`, ''].join('\n');
    expect(parseServerStates(answer)).toEqual([
      { backend: 'a-be80', server: 'a', address: '10.0.0.1', port: 80, fqdn: undefined },
      { backend: 'b-be81', server: 'b', address: '10.0.0.2', port: 81, fqdn: 'b.test' },
    ]);
  });

  it('skips comments and lines with another number of columns, and refuses an answer without the header', () => {
    const answer = [
      '1',
      HEADER,
      `# ${line('c-be1', 'c', '10.0.0.3', '-', 1)}`,
      '3 short 1',
      line('d-be1', 'd', '10.0.0.4', '-', 1).replace(' 1 d ', ' 1  d '),
      '',
    ].join('\n');
    expect(parseServerStates(answer)).toEqual([]);
    expect(parseServerStates('Unknown command.\n')).toBeUndefined();
  });
});
