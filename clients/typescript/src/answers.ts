// Holding an answer of the generated client to what the flow expects: the status, and a body of
// the documented type. Anything else throws UnexpectedAnswer with what did arrive.

import type { ErrorResponse } from './generated/types.gen.js';

export class UnexpectedAnswer extends Error {}

// `response` is missing when no answer came at all (the server is down): `error` says why.
type Answer<T, E> = { data?: T; error?: E; response?: Response };

function noAnswer(error: unknown): UnexpectedAnswer {
  return new UnexpectedAnswer(`no answer: ${error instanceof Error ? error.message : error}`);
}

export async function expectStatus<T, E>(call: Promise<Answer<T, E>>, status: number): Promise<T> {
  const { data, error, response } = await call;
  if (response === undefined) throw noAnswer(error);
  if (response.status !== status || data === undefined) {
    const body = error === undefined ? '' : ` ${JSON.stringify(error)}`;
    throw new UnexpectedAnswer(`expected ${status}, got ${response.status}${body}`);
  }
  return data;
}

export async function expectError<T>(
  call: Promise<Answer<T, ErrorResponse>>,
  status: number,
): Promise<ErrorResponse> {
  const { error, response } = await call;
  if (response === undefined) throw noAnswer(error);
  if (response.status !== status || error === undefined) {
    throw new UnexpectedAnswer(`expected ${status} with an ErrorResponse, got ${response.status}`);
  }
  return error;
}

export function check(condition: boolean, what: string): void {
  if (!condition) throw new UnexpectedAnswer(what);
}
