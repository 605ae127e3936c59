// The package root (`import { DynakvClient } from 'dynakv'`): the TypeScript client of a dynakv
// cluster and its typed results, nothing of the node's insides. A node is run by the `dynakv`
// command (src/cli/main.ts), not from here. What is exported here is the package's public API;
// README.md ("Using the package") shows it in use.
export {
  ANSWER_BYTES_MAX,
  CONTEXT_HEADER,
  ClientError,
  DynakvClient,
  type Answer,
  type ClientCredentials,
  type ClientOptions,
  type LocalRead,
  type ReadResult,
  type ReadValue,
} from './client/http-client.ts';
export { ClusterClient, NoNodeAnswered, type Attempt, type AttemptOutcome, type ClusterClientOptions } from './client/cluster-client.ts';
export { credentialsFromCertsDir, type CredentialsChoice } from './client/credentials.ts';
export type { MembersView, MemberView, RingView, SiblingView } from './api/views.ts';
