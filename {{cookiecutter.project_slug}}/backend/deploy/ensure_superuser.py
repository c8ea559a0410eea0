"""Ensure one superuser exists: idempotent, refuses weak passwords, run deliberately.

    docker compose run --rm superuser

Reads SUPERUSER_USERNAME and the password from SUPERUSER_PASSWORD_FILE (or SUPERUSER_PASSWORD).
Works with any Django project: it only uses get_user_model() and Django's password validators.
"""
import os
import sys

WEAK = {"admin", "admin123", "password", "changeme", "123456", "12345678", "secret", "django"}


def read_password() -> str:
    path = os.environ.get("SUPERUSER_PASSWORD_FILE")
    if path:
        with open(path, encoding="utf-8") as fh:
            return fh.read().strip()
    return os.environ.get("SUPERUSER_PASSWORD", "")


def refuse_weak(username: str, password: str) -> None:
    problems = []
    if len(password) < 16:
        problems.append("shorter than 16 characters")
    if password.lower() in WEAK or password.lower() == username.lower():
        problems.append("a default or guessable value")
    if problems:
        hint = "python -c 'import secrets; print(secrets.token_urlsafe(24))'"
        print(f"ensure_superuser: refused: the password is {' and '.join(problems)}; "
              f"put a strong one in secrets/superuser_password (e.g. {hint})", file=sys.stderr)
        sys.exit(2)


def main() -> None:
    username = os.environ.get("SUPERUSER_USERNAME", "")
    password = read_password()
    if not username:
        sys.exit("ensure_superuser: SUPERUSER_USERNAME is empty")
    refuse_weak(username, password)

    sys.path.insert(0, os.getcwd())
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.password_validation import validate_password
    from django.core.exceptions import ValidationError

    User = get_user_model()
    try:
        validate_password(password, User(**{User.USERNAME_FIELD: username}))
    except ValidationError as err:
        sys.exit(f"ensure_superuser: refused by Django's password validators: {' '.join(err.messages)}")

    user = User.objects.filter(**{User.USERNAME_FIELD: username}).first()
    if user is None:
        User.objects.create_superuser(**{User.USERNAME_FIELD: username, "password": password})
        print(f"ensure_superuser: created superuser {username!r}")
    elif user.is_superuser and user.check_password(password):
        print(f"ensure_superuser: superuser {username!r} already exists; nothing to do")
    else:
        user.is_superuser = user.is_staff = True
        user.set_password(password)
        user.save()
        print(f"ensure_superuser: updated superuser {username!r}")


if __name__ == "__main__":
    main()
