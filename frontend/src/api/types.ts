// Types derived from the generated schema by path, not by component name, so they stay
// valid whatever the server names its models.
import type { paths } from "./schema";

type Json<T> = T extends { content: { "application/json": infer B } } ? B : never;
type Ok<Op> = Op extends { responses: { 200: infer R } }
  ? Json<R>
  : Op extends { responses: { 201: infer R } }
    ? Json<R>
    : never;
type Body<Op> = Op extends { requestBody?: { content: { "application/json": infer B } } }
  ? B
  : never;

export type ProviderView = Ok<paths["/api/v1/providers"]["get"]>["providers"][number];
export type AuthMethodView = ProviderView["auth_methods"][number];
export type FieldView = AuthMethodView["secret_fields"][number];

export type KeyView = Ok<paths["/api/v1/keys"]["get"]>["keys"][number];
export type KeyCreate = Body<paths["/api/v1/keys"]["post"]>;
export type KeyUpdate = Body<paths["/api/v1/keys/{key_id}"]["patch"]>;
export type CredentialVersion = Ok<paths["/api/v1/keys/{key_id}/versions"]["get"]>["versions"][number];
export type KeyCheck = NonNullable<Body<paths["/api/v1/keys/{key_id}/verify"]["post"]>>;
export type VerifyResult = Ok<paths["/api/v1/keys/{key_id}/verify"]["post"]>;

export type SessionView = Ok<paths["/api/v1/session"]["get"]>;

export type EndpointView = Ok<paths["/api/v1/endpoints"]["get"]>["endpoints"][number];
export type TargetView = EndpointView["targets"][number];
export type EndpointCreate = Body<paths["/api/v1/endpoints"]["post"]>;
export type EndpointUpdate = Body<paths["/api/v1/endpoints/{endpoint_id}"]["patch"]>;
export type TargetIn = EndpointCreate["targets"][number];

export type UsageReport = Ok<paths["/api/v1/usage"]["get"]>;
export type UsageRow = UsageReport["rows"][number];
export type UsageTotals = UsageReport["totals"];
export type UsageRecord = Ok<paths["/api/v1/usage/requests"]["get"]>["records"][number];
export type UsageGroupBy = NonNullable<NonNullable<paths["/api/v1/usage"]["get"]["parameters"]["query"]>["group_by"]>;
export type AccessTokenCreate = Body<paths["/api/v1/access-tokens"]["post"]>;
export type AccessTokenCreated = Ok<paths["/api/v1/access-tokens"]["post"]>;
export type AccessTokenView = Ok<paths["/api/v1/access-tokens"]["get"]>["access_tokens"][number];
export type AccessTokenUpdate = Body<paths["/api/v1/access-tokens/{token_id}"]["patch"]>;
export type AccessTokenRotate = NonNullable<Body<paths["/api/v1/access-tokens/{token_id}/rotate"]["post"]>>;

/** The `limits` object a token, an endpoint or a key carries. */
export type LimitsIn = NonNullable<AccessTokenCreate["limits"]>;
export type BudgetIn = NonNullable<LimitsIn["budget"]>;
export type LimitsUse = Ok<paths["/api/v1/limits/use"]["get"]>;
export type SubjectUse = LimitsUse["subjects"][number];
