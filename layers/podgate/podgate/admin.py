"""podgate admin command: add users, set roles, reset passwords, disable and enable users.

    python -m podgate.admin [--local | --stack NAME | --users-table NAME] COMMAND ...

--local targets the stack `make dev` is running (it writes .podgate/local.env); --stack reads
the table name from a deployed CloudFormation stack's outputs; otherwise USERS_TABLE is used.
Passwords are never taken from the command line (shell history, ps): they are prompted for,
read from stdin with --password-stdin, or generated and printed once with --generate-password.
"""

from __future__ import annotations

import argparse
import getpass
import os
import secrets
import sys
from pathlib import Path

from podgate.models.domain import ROLES
from podgate.repositories.users import UserExists, UserMissing, UsersRepository
from podgate.services import passwords

LOCAL_ENV = Path(".podgate/local.env")


def ensure_user(users_table: str, username: str, password: str, role: str = "admin") -> bool:
    """Create the user unless it exists. True when created. Used to seed the local stack."""
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


def _table_from_stack(stack: str) -> str:
    import boto3  # only this path needs CloudFormation

    outputs = boto3.client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])
    for out in outputs:
        if out["OutputKey"] == "UsersTableName":
            return str(out["OutputValue"])
    sys.exit(f"stack {stack} has no UsersTableName output")


def _new_password(args: argparse.Namespace) -> str:
    if args.generate_password:
        password = secrets.token_urlsafe(18)
        print(f"generated password (shown once): {password}", file=sys.stderr)
        return password
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
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
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.local:
        _load_local_env(LOCAL_ENV)
    table = args.users_table or os.environ.get("USERS_TABLE")
    if args.stack:
        table = _table_from_stack(args.stack)
    if not table:
        sys.exit("no users table: pass --local, --stack NAME or --users-table NAME (or set USERS_TABLE)")
    repo = UsersRepository(table)
    try:
        if args.command == "add-user":
            user = repo.create(args.username, passwords.hash_password(_new_password(args)), args.role)
            print(f"created {user.username} ({user.role})")
        elif args.command == "reset-password":
            repo.set_password(args.username, passwords.hash_password(_new_password(args)))
            print(f"password reset for {args.username}; earlier tokens are revoked")
        elif args.command == "set-role":
            repo.set_role(args.username, args.role)
            print(f"{args.username} is now {args.role}; earlier tokens are revoked")
        elif args.command in ("disable", "enable"):
            repo.set_disabled(args.username, args.command == "disable")
            print(f"{args.username} {args.command}d")
        elif args.command == "list-users":
            for u in repo.list():
                print(f"{u.username}\t{u.role}\t{'disabled' if u.disabled else 'active'}\t{u.created_at}")
    except UserExists:
        sys.exit(f"user {args.username} already exists")
    except UserMissing:
        sys.exit(f"no such user: {args.username}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
