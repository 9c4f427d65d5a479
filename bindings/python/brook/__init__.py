"""brook: brokerless, durable publish/subscribe.

A Producer journals every record (LMDB) and publishes it live (ZeroMQ); a
Consumer receives each stream (producer, topic, partition) in offset order,
with no gap and no duplicate, replaying from the producer's journal whatever
it missed. Errors are exceptions under brook.Error carrying brook's messages.
"""
from ._brook import (AlreadyExists, Consumer, DataLoss, Error, Event, FailedPrecondition,
                     InternalError, InvalidArgument, NotFound, OutOfRange, Producer,
                     PublishFuture, Record, ResourceExhausted, Unavailable, generate_keys)

__all__ = [
    "AlreadyExists", "Consumer", "DataLoss", "Error", "Event", "FailedPrecondition",
    "InternalError", "InvalidArgument", "NotFound", "OutOfRange", "Producer", "PublishFuture",
    "Record", "ResourceExhausted", "Unavailable", "generate_keys",
]

for _name in ("Consumer", "Event", "Producer", "PublishFuture", "Record"):
    globals()[_name].__module__ = __name__  # help() and repr say brook.X
del _name
