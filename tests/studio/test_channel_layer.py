"""The studio's channel layer settings, as the web server and the worker use them."""

from channels_redis.pubsub import RedisPubSubChannelLayer

from studio import settings as studio_settings


def test_job_events_fan_out_through_redis_pub_sub() -> None:
    """A web process subscribes once per job and fans its events out in memory (issue 17):
    RedisChannelLayer ran Redis commands for each socket joining or leaving a job's group, and more
    than 100 at once failed (its pool's limit), closing those sockets with 1011."""
    backend = studio_settings.CHANNEL_LAYERS["default"]["BACKEND"]
    assert backend == f"{RedisPubSubChannelLayer.__module__}.{RedisPubSubChannelLayer.__name__}"
