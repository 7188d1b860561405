/** Who is calling: resolved from the access key by the HTTP layer's signature check. */
export interface Principal {
  accountId: string;
  userId: string;
}
