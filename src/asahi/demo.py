"""`asahi demo`: the gateway on embedded defaults with a demo org and key, and what to paste to try it."""

from __future__ import annotations

import asyncio
import uuid

from asahi.governance import accounts
from asahi.server import serve
from asahi.settings import Settings
from asahi.store import db
from asahi.store.migrate import migrate

DEMO_MODEL = "asahi-sim-gpt-4o-mini"


async def _demo_key(settings: Settings) -> tuple[str, str]:
    engine = db.create_engine(db.database_url(settings))
    try:
        await migrate(engine)
        org, issued = await accounts.create_org_with_key(
            engine, f"demo-{uuid.uuid4().hex[:8]}", "demo@example.com", actor="demo"
        )
        return org.id, issued.plaintext
    finally:
        await engine.dispose()


def instructions(base: str, org_id: str, key: str) -> str:
    body = f'{{"model": "{DEMO_MODEL}", "messages": [{{"role": "user", "content": "What is prompt caching?"}}]}}'
    return f"""
Asahi demo: embedded defaults (SQLite, in-process caches, built-in simulator provider).
  dashboard: {base}/dashboard/   (sign in with the api key below, or sign up a new org there)
  org_id:    {org_id}
  api key:   {key}

Try it (run it twice: the second answer is a tier 1 cache hit, see x-asahi-cache and x-asahi-saved-usd):

  curl -si {base}/v1/chat/completions \\
    -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{body}'

  curl -s {base}/infer -H "Authorization: Bearer {key}" -H "Content-Type: application/json" \\
    -d '{{"prompt": "What is prompt caching?"}}'

With the OpenAI SDK:

  from openai import OpenAI
  client = OpenAI(base_url="{base}/v1", api_key="{key}")
  print(client.chat.completions.create(model="{DEMO_MODEL}",
        messages=[{{"role": "user", "content": "What is prompt caching?"}}]).choices[0].message.content)
"""


def run_demo(settings: Settings, host: str, port: int) -> None:
    org_id, key = asyncio.run(_demo_key(settings))
    print(instructions(f"http://{host}:{port}", org_id, key), flush=True)
    serve(settings, host, port)
