// A worker that lost its lease on a request (it paused, or its store writes failed, longer than
// the lease) while another worker claimed the request and runs it now. It must stop at once and
// leave everything, clean-up included, to the new holder: two workers undoing and redoing one
// operation is how a half-done cluster would come about.
import type { Lease } from '../domain/ports.js';

export class LeaseLost extends Error {
  constructor(lease: Lease) {
    super(`request ${lease.requestId} is no longer held by ${lease.workerId}: another worker runs it now`);
    this.name = 'LeaseLost';
  }
}
