/** `fetch` for one service's API as its clients call it: a bearer token and JSON bodies. */
export function apiRequest(baseUrl: string, token: string) {
  return (path: string, init: RequestInit = {}) =>
    fetch(`${baseUrl}${path}`, {
      ...init,
      headers: {
        authorization: `Bearer ${token}`,
        "content-type": "application/json",
        ...(init.headers as Record<string, string> | undefined),
      },
    });
}
