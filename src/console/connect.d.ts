// Types of connect.js for the TypeScript that imports it (its unit test).
import type { ClusterDetailResponse } from '../contract/types.js';
export declare function connectionLines(d: ClusterDetailResponse): Array<{ label: string; line: string }>;
