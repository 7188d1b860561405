import type { Principal } from '../../domain/principal.js';

/** What a route handler gets: the caller and the already-validated inputs. */
export interface Call {
  principal: Principal;
  params: Record<string, any>;
  query: Record<string, any>;
  body: any;
}

export interface Reply {
  status: number;
  body: unknown;
}

export type Handler = (call: Call) => Promise<Reply>;
