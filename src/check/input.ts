// What check reads: the AWS CLI's output, as is, of either kind. One entry
// point tells the shapes apart document by document (array items included):
//   Things Graph   deploy-system-instance, search-system-instances, get-system-instance
//                  (read by src/verify/deploy-response.ts)
//   Greengrass v2  get-deployment (src/verify/greengrass-v2-expectation.ts)
// One call checks one kind: the two ask different devices on different topics
// and are judged in different terms, so a mixed input is refused with a
// message rather than half checked. Pure.
import type { JsonDocument } from '../model/strict-json.js';
import { parseDeployDocuments, readDocuments, ResponseError, type ParsedResponses } from '../verify/deploy-response.js';
import { expectationLayout, parseGetDeploymentDocuments, type GetDeploymentInputs } from '../verify/greengrass-v2-expectation.js';

export type CheckInput =
  | ({ layout: 'thingsgraph-v1' } & ParsedResponses)
  | ({ layout: 'greengrass-v2' } & GetDeploymentInputs);

/** The documents, array items spread, each with where it is. */
function items(docs: JsonDocument[]): { value: unknown; where: string }[] {
  const out: { value: unknown; where: string }[] = [];
  docs.forEach((d, i) => {
    const where = docs.length > 1 ? `document ${i + 1} (line ${d.line})` : '';
    if (Array.isArray(d.value)) d.value.forEach((v, k) => out.push({ value: v, where: `${where ? `${where} ` : ''}item ${k + 1}` }));
    else out.push({ value: d.value, where });
  });
  return out;
}

/** Reads check's input; throws ResponseError naming the problem and where it is. */
export function parseCheckInput(text: string): CheckInput {
  const docs = readDocuments(text);
  const all = items(docs);
  const v2 = all.filter((x) => expectationLayout(x.value) === 'greengrass-v2');
  if (v2.length === 0) return { layout: 'thingsgraph-v1', ...parseDeployDocuments(docs) };
  if (v2.length < all.length) {
    const other = all.find((x) => expectationLayout(x.value) !== 'greengrass-v2')!;
    throw new ResponseError(
      `mixes Greengrass v2 output (${v2[0]!.where || 'the first document'}) with other output (${other.where || 'another document'}): check one kind of deployment per call`,
    );
  }
  try {
    return { layout: 'greengrass-v2', ...parseGetDeploymentDocuments(v2) };
  } catch (err) {
    throw new ResponseError((err as Error).message);
  }
}
