// The client is generated from the schema the running server serves, never from a copy in the
// repo: what the flow compiles against is what a frontend would get today.
import { defineConfig } from '@hey-api/openapi-ts';

const base = process.env.QUILL_BASE_URL ?? 'http://127.0.0.1:8000';

export default defineConfig({
  input: `${base}/openapi.json`,
  output: 'src/generated', // git-ignored
  plugins: ['@hey-api/client-fetch', '@hey-api/typescript', '@hey-api/sdk'],
});
