// The Cache Store TypeScript SDK: a signed, typed client for every operation of the contract and
// the extensions, waiters, and credential discovery (as the CLI finds them).
export { CacheStoreClient, OPERATION_METHODS, type ClientOptions } from './client.js';
export { ApiError, ConnectionError, RequestFailedError, WaitTimeoutError } from './errors.js';
export { signature, signedHeaders, type Keys } from './signing.js';
export { waitForClusterState, waitForRequest, DEFAULT_WAIT_MS, type Progress, type WaitOptions, type WaitResult } from './waiters.js';
export { resolveConnection, CredentialError, DEFAULT_ENDPOINT, profileFile, type Connection, type ConnectionFlags, type Profile } from './credentials.js';
export type * from '../contract/types.js';
