// The bearer token of an `Authorization` header, for every transport that accepts one (HTTP, sockets).
export function bearerToken(header: string | undefined): string | undefined {
  const match = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
  return match?.[1];
}
