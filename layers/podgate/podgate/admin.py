"""podgate admin command: manage users and rotate the token signing key.

    python -m podgate.admin [--local | --stack NAME | --users-table NAME] COMMAND ...

--local targets the stack `make dev` is running (it writes .podgate/local.env); --stack reads
the table name from a deployed CloudFormation stack's outputs; otherwise USERS_TABLE (and
JWT_SECRET_ID for rotate-signing-key) is used.
Passwords are never taken from the command line (shell history, ps): they are prompted for,
read from stdin with --password-stdin, or generated and printed once with --generate-password.
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import sys
import time
from pathlib import Path

from podgate.models.domain import ROLES
from podgate.repositories.users import UserExists, UserMissing, UsersRepository
from podgate.services import passwords
from podgate.services.tokens import Keyring, SigningKey

LOCAL_ENV = Path(".podgate/local.env")
# What /auth accepts (1-128 characters), narrowed to characters that are safe in logs and shells.
USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}")


def ensure_user(users_table: str, username: str, password: str, role: str = "admin") -> bool:
    """Create the user unless it exists. True when created. Used to seed the local stack."""
    if not USERNAME.fullmatch(username):
        raise ValueError(f"invalid username {username!r}")
    passwords.check_policy(password)
    try:
        UsersRepository(users_table).create(username, passwords.hash_password(password), role)
    except UserExists:
        return False
    return True


def _load_local_env(path: Path) -> None:
    if not path.exists():
        sys.exit(f"{path} not found: start the local stack with `make dev` first")
    for line in path.read_text().splitlines():
        key, sep, value = line.partition("=")
        if sep and not line.startswith("#"):
            os.environ[key.strip()] = value.strip()


def _stack_output(stack: str, key: str) -> str:
    import boto3  # only this path needs CloudFormation

    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for out in outputs:
        if out["OutputKey"] == key:
            return str(out["OutputValue"])
    sys.exit(f"stack {stack} has no {key} output")


def rotate_signing_key(
    secret_id: str, *, activate_in: int, grace_seconds: int, now: float | None = None
) -> str:
    """Add a new signing key that starts signing `activate_in` seconds from now, and drop keys
    that will be retired by then. Returns the new key's id.

    The delay lets every function's cached keyring (the extension's TTL plus the in-process
    cache) learn the new key before any token carries it; the previous key keeps verifying
    for `grace_seconds` after the switch, so no token issued before the rotation dies early.
    """
    import boto3

    client = boto3.client("secretsmanager")
    ring = Keyring.parse(client.get_secret_value(SecretId=secret_id)["SecretString"])
    now = time.time() if now is None else now
    starts = now + activate_in
    kid = f"k{int(starts)}"
    new = SigningKey(kid=kid, key=secrets.token_urlsafe(48).encode(), active_from=starts)
    keep = tuple(k for k in ring.keys if ring.verification_key(k.kid, starts, grace_seconds) is not None)
    client.put_secret_value(SecretId=secret_id, SecretString=Keyring((*keep, new)).to_json())
    return kid


def _new_password(args: argparse.Namespace) -> str:
    if args.generate_password:
        password = secrets.token_urlsafe(18)
        print(f"generated password (shown once): {password}", file=sys.stderr)
        return password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        sys.exit("no terminal to prompt for a password: use --password-stdin or --generate-password")
    else:
        password = getpass.getpass("new password: ")
        if getpass.getpass("repeat: ") != password:
            sys.exit("passwords differ")
    try:
        passwords.check_policy(password)
    except ValueError as exc:
        sys.exit(str(exc))
    return password


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="podgate-admin", description=__doc__.split("\n")[0])
    target = p.add_mutually_exclusive_group()
    target.add_argument("--local", action="store_true", help="the stack `make dev` runs")
    target.add_argument("--stack", help="a deployed stack's name (reads its UsersTableName output)")
    target.add_argument("--users-table", help="the users table's name (default: $USERS_TABLE)")
    sub = p.add_subparsers(dest="command", required=True)

    def with_password(sp: argparse.ArgumentParser) -> None:
        g = sp.add_mutually_exclusive_group()
        g.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        g.add_argument("--generate-password", action="store_true", help="generate one and print it once")

    add = sub.add_parser("add-user", help="create a user")
    add.add_argument("username")
    add.add_argument("--role", choices=ROLES, default="user")
    with_password(add)
    reset = sub.add_parser("reset-password", help="set a new password; revokes the user's tokens")
    reset.add_argument("username")
    with_password(reset)
    role = sub.add_parser("set-role", help="change a user's role; revokes the user's tokens")
    role.add_argument("username")
    role.add_argument("role", choices=ROLES)
    for name, text in (("disable", "block logins and revoke tokens"), ("enable", "allow logins again")):
        sub.add_parser(name, help=text).add_argument("username")
    sub.add_parser("list-users", help="usernames, roles and status")
    rotate = sub.add_parser("rotate-signing-key", help="add a new signing key; the old one keeps verifying")
    rotate.add_argument("--secret-id", help="the keyring secret (default: $JWT_SECRET_ID or stack output)")
    rotate.add_argument("--activate-in", type=int, default=600,
                        help="seconds until the new key signs; at least the secrets cache TTL (default 600)")
    rotate.add_argument("--grace", type=int, default=86400,
                        help="seconds the previous key keeps verifying after the switch (default 86400)")
    return p


def _rotate(args: argparse.Namespace) -> None:
    secret_id = args.secret_id or os.environ.get("JWT_SECRET_ID")
    if args.stack and not args.secret_id:
        secret_id = _stack_output(args.stack, "JwtSigningKeySecretArn")
    if not secret_id:
        sys.exit("no keyring secret: pass --secret-id, --local or --stack NAME (or set JWT_SECRET_ID)")
    kid = rotate_signing_key(secret_id, activate_in=args.activate_in, grace_seconds=args.grace)
    print(f"new signing key {kid} signs {args.activate_in} s from now; earlier keys keep verifying")


def _user_command(args: argparse.Namespace, repo: UsersRepository) -> None:
    name = args.username if "username" in args else ""
    if args.command == "add-user":
        if not USERNAME.fullmatch(name):
            sys.exit("usernames are 1-128 characters: letters, digits and . _ @ + - (not first)")
        user = repo.create(name, passwords.hash_password(_new_password(args)), args.role)
        print(f"created {user.username} ({user.role})")
    elif args.command == "reset-password":
        repo.set_password(name, passwords.hash_password(_new_password(args)))
        print(f"password reset for {name}; earlier tokens are revoked")
    elif args.command == "set-role":
        repo.set_role(name, args.role)
        print(f"{name} is now {args.role}; earlier tokens are revoked")
    elif args.command in ("disable", "enable"):
        repo.set_disabled(name, args.command == "disable")
        print(f"{name} {args.command}d; earlier tokens are revoked")
    elif args.command == "list-users":
        for u in repo.list():
            print(f"{u.username}\t{u.role}\t{'disabled' if u.disabled else 'active'}\t{u.created_at}")


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.local:
        _load_local_env(LOCAL_ENV)
    if args.command == "rotate-signing-key":
        _rotate(args)
        return 0
    table = _stack_output(args.stack, "UsersTableName") if args.stack else None
    table = table or args.users_table or os.environ.get("USERS_TABLE")
    if not table:
        sys.exit("no users table: pass --local, --stack NAME or --users-table NAME (or set USERS_TABLE)")
    try:
        _user_command(args, UsersRepository(table))
    except UserExists:
        sys.exit(f"user {args.username} already exists")
    except UserMissing:
        sys.exit(f"no such user: {args.username}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
