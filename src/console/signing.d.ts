// Types of signing.js for the TypeScript that imports it (its unit test).
export interface Keys {
  accessKey: string;
  secretKey: string;
  accountId?: string;
}
export declare const CLIENT_TYPE: string;
export declare const API_VERSION: string;
export declare function canonicalString(method: string, url: string, timestamp: string, accessKey: string, accountId?: string, clientType?: string): string;
export declare function signature(secretKey: string, method: string, url: string, timestamp: string | number, accessKey: string, accountId?: string, clientType?: string): Promise<string>;
export declare function nextTimestamp(): number;
export declare function signedHeaders(keys: Keys, method: string, url: string, timestamp?: number): Promise<Record<string, string>>;
