import { KvPair, listPairs } from '../src/store/kv-listing';

/** What every listing must give: the pairs JSON.parse gives, each key and ModifyIndex at once. */
function expectSameAsJsonParse(text: string): void {
  const parsed = JSON.parse(text) as KvPair[];
  const listed = listPairs(text);
  expect(listed.map((item) => item.key)).toEqual(parsed.map((pair) => pair.Key));
  expect(listed.map((item) => item.modifyIndex)).toEqual(parsed.map((pair) => pair.ModifyIndex));
  expect(listed.map((item) => item.pair())).toEqual(parsed);
}

const value = (params: object): string => Buffer.from(JSON.stringify(params)).toString('base64');

describe('listPairs: the pairs of a recursive KV read', () => {
  it("reads Consul's answer as JSON.parse does, pair by pair", () => {
    const text =
      `[{"LockIndex":0,"Key":"docker-flow/services/a","Flags":0,"Value":"${value({ serviceName: 'a', port: '80' })}","CreateIndex":12,"ModifyIndex":15},` +
      `{"LockIndex":0,"Key":"docker-flow/services/b","Flags":1213202433,"Value":null,"Session":"3f7c","CreateIndex":13,"ModifyIndex":9007199254740}]`;
    expectSameAsJsonParse(text);
  });

  it('unescapes keys Consul escapes (quotes, backslashes, <, >, & and line separators) and keeps other characters as sent', () => {
    const keys = ['p/services/a"b', 'p/services/c\\d', 'p/services/<e>&f', 'p/services/g\u2028h', 'p/services/é-ü', 'p/services/end\\', 'p/services/'];
    const pairs = keys.map((Key, i) => ({ LockIndex: 0, Key, Flags: 0, Value: value({ i }), CreateIndex: i, ModifyIndex: i + 100 }));
    const goStyle = JSON.stringify(pairs)
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026')
      .replace(/\u2028/g, '\\u2028');
    expectSameAsJsonParse(goStyle);
    expect(listPairs(goStyle).map((item) => item.key)).toEqual(keys);
  });

  it('reads an empty listing, white space and fields in any order', () => {
    expectSameAsJsonParse('[]');
    expectSameAsJsonParse(' [ \n ] \n');
    expectSameAsJsonParse('[\n  {\n    "ModifyIndex": 7,\n    "Value": "eyJ9",\n    "Key": "k"\n  } ,\n  { "Key" : "l" , "Value" : null }\n]\n');
  });

  it('falls back to JSON.parse for what it does not expect: nested values, booleans, negative or fractional numbers', () => {
    expectSameAsJsonParse('[{"Key":"a","Meta":{"x":"}"},"ModifyIndex":3}]');
    expectSameAsJsonParse('[{"Key":"a","Locked":true,"ModifyIndex":3}]');
    expectSameAsJsonParse('[{"Key":"a","Flags":-1,"ModifyIndex":3.5}]');
    expectSameAsJsonParse('[{"Value":"x"},{"Key":"b","ModifyIndex":1}]');
  });

  it('throws as JSON.parse does on a text that is not JSON (a truncated answer)', () => {
    expect(() => listPairs('[{"Key":"a","ModifyIndex":3},{"Key":"b","Modi')).toThrow(SyntaxError);
    expect(() => listPairs('[{"Key":"a"}] trailing')).toThrow(SyntaxError);
    expect(() => listPairs('')).toThrow(SyntaxError);
  });
});
