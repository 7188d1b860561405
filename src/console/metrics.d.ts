// Types of metrics.js for the TypeScript that imports it (its unit test).
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}
export interface Point {
  t: number;
  v: number;
}
export declare function parseExposition(text: string): Sample[];
export declare const CHARTS: Array<{ metric: string; title: string; unit: string; kind: 'gauge' | 'counter' }>;
export declare class MetricHistory {
  constructor(keep?: number);
  add(samples: Sample[], t: number, clusterId?: string): void;
  of(metric: string): Array<{ instance: string; points: Point[] }>;
}
export declare function sparklinePath(points: Point[], width: number, height: number, max?: number): string;
export declare function formatValue(v: number, unit: string): string;
