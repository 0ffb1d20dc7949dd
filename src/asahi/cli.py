"""The `asahi` command: serve, migrate, keys, router, demo."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select

from asahi.errors import AsahiError
from asahi.governance import accounts, audit, keys
from asahi.governance.rotation import reseal, sealer_for
from asahi.observability.logging import configure as configure_logging
from asahi.settings import Settings, SettingsError, load_settings
from asahi.store import db
from asahi.store.migrate import migrate
from asahi.store.tables import orgs


async def _migrate(settings: Settings) -> None:
    engine = db.create_engine(db.database_url(settings))
    try:
        await migrate(engine)
    finally:
        await engine.dispose()


async def _org_id_for(settings: Settings, name: str, email: str) -> str:
    engine = db.create_engine(db.database_url(settings))
    try:
        await migrate(engine)
        async with engine.connect() as connection:
            row = (await connection.execute(select(orgs.c.id).where(orgs.c.name_key == name.casefold()))).first()
        if row is not None:
            return str(row[0])
        org, _ = await accounts.create_org_with_key(engine, name, email, actor="cli")
        return org.id
    finally:
        await engine.dispose()


async def _keys(settings: Settings, args: argparse.Namespace) -> None:
    engine = db.create_engine(db.database_url(settings))
    try:
        await migrate(engine)
        if args.keys_command == "create":
            org_id = args.org_id or await _org_id_for(settings, args.org_name, args.email)
            expires = datetime.now(UTC) + timedelta(days=args.expires_in_days) if args.expires_in_days else None
            issued = await accounts.create_key(
                engine, org_id, args.name, keys.parse_scopes(args.scopes), expires, actor="cli"
            )
            print(f"org_id={org_id} key_id={issued.record.id} scopes={','.join(sorted(issued.record.scopes))}")
            print(issued.plaintext)
        elif args.keys_command == "list":
            for record in await accounts.list_keys(engine, args.org_id):
                state = "revoked" if record.revoked_at else "active"
                print(f"{record.id}\t{record.prefix}\t{record.name}\t{','.join(sorted(record.scopes))}\t{state}")
        elif args.keys_command == "revoke":
            record = await accounts.revoke_key(engine, args.org_id, args.key_id, actor="cli")
            print(f"revoked {record.id}")
        elif args.keys_command == "rotate-encryption":
            sealer = sealer_for(settings)
            count = await reseal(engine, sealer)
            print(f"re-sealed {count} value(s) with encryption key {sealer.key_id}")
    finally:
        await engine.dispose()


async def _audit_verify(settings: Settings) -> bool:
    """Check every chain of the audit log; print the first broken link, if any."""
    engine = db.create_engine(db.database_url(settings))
    try:
        await migrate(engine)
        broken = await audit.verify(engine)
    finally:
        await engine.dispose()
    if broken is None:
        print("audit log intact: every chain verifies")
        return True
    print(f"audit log broken at row {broken.id} (org {broken.org_id or '-'}): {broken.reason}")
    return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="asahi", description="Asahi LLM cost-optimization gateway")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP gateway")
    serve.add_argument("--host", help="default: $HOST, else 0.0.0.0 in a container and 127.0.0.1 elsewhere")
    serve.add_argument("--port", type=int, help="default: $PORT, else 8000")
    serve.add_argument("--workers", type=int, help="processes on the one port (default: $WEB_CONCURRENCY, else 1)")
    sub.add_parser("migrate", help="bring the database schema to the latest version")
    demo = sub.add_parser("demo", help="start on embedded defaults with a demo org and key")
    demo.add_argument("--host", help="default: $HOST, else 0.0.0.0 in a container and 127.0.0.1 elsewhere")
    demo.add_argument("--port", type=int, help="default: $PORT, else 8000")
    key_cmd = sub.add_parser("keys", help="manage API keys").add_subparsers(dest="keys_command", required=True)
    create = key_cmd.add_parser("create")
    target = create.add_mutually_exclusive_group(required=True)
    target.add_argument("--org-id")
    target.add_argument("--org-name", help="an org to find, or create if it does not exist")
    create.add_argument("--email", default="admin@localhost.localdomain")
    create.add_argument("--name", default="cli")
    create.add_argument("--scopes", default="infer")
    create.add_argument("--expires-in-days", type=int)
    listing = key_cmd.add_parser("list")
    listing.add_argument("--org-id", required=True)
    revoke = key_cmd.add_parser("revoke")
    revoke.add_argument("--org-id", required=True)
    revoke.add_argument("key_id")
    key_cmd.add_parser("rotate-encryption", help="re-seal every sealed value with ASAHI_ENCRYPTION_KEY (the old key "
                                                 "in ASAHI_PREVIOUS_ENCRYPTION_KEY)")
    audit_cmd = sub.add_parser("audit", help="the audit log").add_subparsers(dest="audit_command", required=True)
    audit_cmd.add_parser("verify", help="check the hash chain; report the first broken link (exit status 1)")
    router_cmd = sub.add_parser("router", help="the learned router").add_subparsers(dest="router_command",
                                                                                 required=True)
    train = router_cmd.add_parser("train", help="retrain the shipped routing model on labelled data")
    train.add_argument("--data", required=True, type=Path, help="a folder laid out like the evaluation data")
    train.add_argument("--out", type=Path, default=None,
                       help="where to write the model, the cascade verifier beside it (default: the shipped ones)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except SettingsError as exc:
        print(f"asahi: configuration error: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    try:
        if args.command == "serve":
            from asahi.server import listen_address, serve, worker_count

            serve(settings, *listen_address(args.host, args.port), workers=worker_count(args.workers))
        elif args.command == "migrate":
            asyncio.run(_migrate(settings))
            print("database is at the latest schema")
        elif args.command == "keys":
            asyncio.run(_keys(settings, args))
        elif args.command == "audit":
            return 0 if asyncio.run(_audit_verify(settings)) else 1
        elif args.command == "router":
            from asahi.routing.learned import MODEL_PATH
            from asahi.routing.training.datasets import load_answers
            from asahi.routing.training.train import train as train_router
            from asahi.routing.training.verifier import train_verifier
            from asahi.routing.verifier import VERIFIER_PATH

            print(train_router(args.data, args.out or MODEL_PATH))
            if load_answers(args.data):  # the cascade's verifier needs answered word problems
                verifier_out = args.out.with_name(VERIFIER_PATH.name) if args.out else VERIFIER_PATH
                _, held_out = train_verifier(args.data, verifier_out)
                print(f"cascade verifier: {verifier_out} (held-out AUC {held_out:.3f})")
        elif args.command == "demo":
            from asahi.demo import run_demo
            from asahi.server import listen_address

            run_demo(settings, *listen_address(args.host, args.port))
    except AsahiError as exc:
        print(f"asahi: {exc.message}", file=sys.stderr)
        return 2
    except ValueError as exc:
        print(f"asahi: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
