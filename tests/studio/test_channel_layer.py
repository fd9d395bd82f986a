"""The studio's channel layer settings, as the web server and the worker use them."""

from channels_redis.core import RedisChannelLayer

from studio import settings as studio_settings


def test_its_redis_reads_outlast_a_receive() -> None:
    """A consumer's receive() is a BZPOPMIN of brpop_timeout seconds: the socket must wait longer,
    or the job page's WebSocket dies after that many quiet seconds."""
    config = studio_settings.CHANNEL_LAYERS["default"]["CONFIG"]
    pool = RedisChannelLayer(**config).create_pool(0)
    assert pool.connection_kwargs["socket_timeout"] > RedisChannelLayer.brpop_timeout
