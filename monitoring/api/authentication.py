"""Token authentication with the token's user kept briefly in the cache.

Every API request of a monitoring script carries the same token; looking it up costs a query
(token joined to its user) per request. The first lookup keeps what authorization needs of
the user (id, username, is_active, is_staff, is_superuser; never the password hash) in the
cache for API_TOKEN_CACHE_SECONDS, under a SHA-256 of the token, never the token itself.

Revocation: deleting a token (the admin, `drf_create_token -r`, deleting its user) or saving
its user (deactivating, demoting) through the service drops the entry at once, and again when
the transaction commits. A change made past the service (raw SQL) applies within the TTL.
Permissions are not cached: `has_perm` reads them per request, as before.
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models.signals import post_delete, post_save
from rest_framework.authentication import TokenAuthentication
from rest_framework.authtoken.models import Token

# What authorization reads of a user. Other fields of the user are deferred: read on access,
# and left alone by a save().
CACHED_USER_FIELDS = {"id", "username", "is_active", "is_staff", "is_superuser"}


def cache_key(token_key: str) -> str:
    return "api-token:" + hashlib.sha256(token_key.encode()).hexdigest()


def _user_fields() -> list[str]:
    """The cached fields in the model's field order, as Model.from_db expects them."""
    return [f.attname for f in get_user_model()._meta.concrete_fields if f.attname in CACHED_USER_FIELDS]


class CachedTokenAuthentication(TokenAuthentication):
    """DRF's TokenAuthentication (`Authorization: Token <key>`), its lookup cached."""

    def authenticate_credentials(self, key: str):
        entry = cache.get(cache_key(key)) if settings.API_TOKEN_CACHE_SECONDS else None
        if entry is not None:
            user = get_user_model().from_db("default", _user_fields(), entry)
            if user.is_active:
                return user, Token(key=key, user=user)
        user, token = super().authenticate_credentials(key)  # raises for an unknown token or inactive user
        if settings.API_TOKEN_CACHE_SECONDS:
            values = tuple(getattr(user, field) for field in _user_fields())
            cache.set(cache_key(key), values, settings.API_TOKEN_CACHE_SECONDS)
        return user, token


def forget(token_keys: list[str]) -> None:
    """Drop the cached lookups of these tokens: now, and once the transaction commits (a
    request that read the token before the commit may have cached it again)."""
    if not token_keys:
        return
    keys = [cache_key(token_key) for token_key in token_keys]
    cache.delete_many(keys)
    if connection.in_atomic_block:
        transaction.on_commit(lambda: cache.delete_many(keys))


def on_token_deleted(sender, instance: Token, **kwargs) -> None:
    forget([instance.key])


def on_user_saved(sender, instance, update_fields=None, **kwargs) -> None:
    if update_fields is not None and set(update_fields) <= {"last_login"}:
        return  # a login, which changes nothing a token's lookup holds
    forget(list(Token.objects.filter(user_id=instance.pk).values_list("key", flat=True)))


def connect() -> None:
    """Listen for revocations (MonitoringConfig.ready)."""
    post_delete.connect(on_token_deleted, sender=Token, dispatch_uid="api_token_cache.token_deleted")
    post_save.connect(on_user_saved, sender=get_user_model(), dispatch_uid="api_token_cache.user_saved")
