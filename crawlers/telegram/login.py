"""Interactive login: `npswatch telegram login`.

Telethon's `client.start()` does the work (send the code, sign in, two-step password); this wraps it so
that each way it can fail ends in one clear sentence saying what to fix. The session file is the one
`client.make_client` prepared (mode 0600); the api hash and the session never reach a log or the database.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from telethon import TelegramClient, errors

from .client import HOW_TO_GET, CredentialError


async def login(client: TelegramClient, *, phone: str | Callable[[], str], code: Callable[[], str],
                password: Callable[[], str]) -> Any:
    """Log the session in (a no-op when it already is); returns the account's `User`."""
    try:
        await client.start(phone=phone, code_callback=code, password=password, max_attempts=3)
    except errors.ApiIdInvalidError:
        raise CredentialError("Telegram refused this api_id/api_hash pair: check telegram.api_id and "
                              f"NPSWATCH_TELEGRAM__API_HASH; {HOW_TO_GET}") from None
    except (errors.PhoneNumberInvalidError, errors.PhoneNumberBannedError, errors.PhoneNumberUnoccupiedError) as exc:
        raise CredentialError(f"Telegram refused the phone number ({type(exc).__name__}): give it in international "
                              "format, e.g. +7 700 000 00 00, for an account that exists") from None
    except errors.PasswordHashInvalidError:
        raise CredentialError("wrong two-step verification password (3 attempts): run `npswatch telegram login` "
                              "again") from None
    except RuntimeError as exc:
        if "sign-in attempts failed" in str(exc):
            raise CredentialError("3 wrong login codes: run `npswatch telegram login` again and type the code "
                                  "Telegram sends") from None
        raise
    return await client.get_me()
