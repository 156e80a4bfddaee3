// Package sharedobject implements Flash remote shared objects: the model (attributes,
// versions, batched deliveries, listeners, access hooks, lingering), the RTMP wire codec
// (message type 19, AMF0, and type 16, AMF3) and durable persistence (a Store; BoltStore
// keeps objects in a bbolt file with grouped commits).
//
// # Wire
//
// A shared-object message is
//
//	[type 16 only] u8 encoding (0x00; 0x03 is accepted too, as Red5 does)
//	u16 name length, name bytes       (at most MaxNameLen bytes)
//	u32 version
//	u32 flags                         (bit 0x02: persistent, see below)
//	u32 reserved (0)
//	repeated: u8 event type, u32 body length, body
//
// Event bodies are those of the [EventType] constants. Keys, status codes and levels
// are u16-length strings without a marker; values are AMF0 values. In type 16 messages
// the values are AMF3 values behind the AMF0 switch marker 0x11: that is what Red5's
// encoder writes (its AMF3 output puts 0x11 before every top-level value) and what its
// decoder reads (AMF0 unless a value starts with 0x11, whatever the encoding byte says),
// and Flash Player and FluorineFx do the same. So [Decode] reads the values of both
// types with AMF0 rules (a 0x11 value is AMF3), and [Append] writes every value of a
// type 16 message as 0x11 followed by its AMF3 encoding. The handler name of a send
// event is a full AMF0 string with its marker, in both types.
//
// Persistence flag: a message is persistent when flags&2 != 0. Red5 writes 2 for
// persistent objects and 0 otherwise and reads persistent == (flags == 2); real clients
// (the npm rtmp-client, Flash-era clients) send 16 for a transient use, and 16&2 == 0, so
// testing the bit reads both the same way. Append writes the raw Message.Flags with bit 2
// set or cleared from Message.Persistent, so decoded messages round-trip and server
// messages (Flags 0) carry 0 or 2 as Red5's do.
//
// Besides the eleven classic event types, Decode accepts type 14 (request clear, empty
// body), which the npm rtmp-client sends for so.clear(); it is applied as
// [SharedObject.Clear] under the [Access.CanDelete] hook with an empty key.
//
// Decoding is bounded: by the payload (every body must be consumed exactly), by
// MaxNameLen and MaxEvents, and by the amf.Limits given, whose MaxTotal and MaxExpanded
// budgets are shared out among the events of a message in proportion to their sizes, so
// a whole message never decodes more than one Decoder would.
//
// # Model
//
// A [SharedObject] lives in a [Container] (one per scope) by name. Transient and
// persistent objects share one namespace per container, as in Red5: asking for an
// existing name with the other persistence fails with ErrBadPersistence (on the wire,
// status SharedObject.BadPersistence).
//
// Every write goes through one ordered pipeline per object: the write changes the
// attributes under the object's lock, and its events join the current batch; when the
// batch closes (at once, or at the outermost EndUpdate) it becomes one immutable
// [Delivery]. For a persistent object the new state is saved in the Store first, and
// only then is the delivery handed to the subscribers (and listeners), in the order
// the batches were made. So a client's success is never sent before its change is
// durable, and versions reach every subscriber in rising order.
//
// Merged fan-out (Options.MergeWindow): an object changed hundreds of times a second
// would cost one call, and for a transport one socket write, per batch per subscriber.
// With a window, each subscriber has a cursor into the object's pipeline, and the
// batches go out in sweeps over the subscribers, at most one sweep per window (the
// first batch after a quiet spell at once): each subscriber is handed every batch from
// its cursor on, consecutive ones as one [Run] where it can, and a batch that becomes
// ready during a sweep goes to the subscribers not yet visited in the same sweep. A
// [RunSubscriber] gets one DeliverRun per sweep (the RTMP connection frames a run once
// for every subscriber without events of its own and writes it to the socket at once);
// other subscribers get each batch by Deliver, in the same order. A sweep of many
// subscribers (512 or more) is shared by up to GOMAXPROCS goroutines, each visiting a
// part of them, so Deliver and DeliverRun may run concurrently for different
// subscribers (never for the same one). A sweep never runs on the goroutine of the
// call that made the batch (a writer's connection would read nothing meanwhile): one
// that is due at once gets a goroutine of its own, held batches go out on the window
// timer's, and the call returns without waiting for the delivery.
//
// Joining (use): the subscriber receives use success, then clear for transient objects
// only (Red5's SharedObject.register does the same: a persistent object's client may
// keep a local copy, which the following changes update), then one change per
// attribute, in key order, in one Delivery.
//
// Writes: the writer receives success (5) instead of change (4); the other subscribers
// receive change only when the value changed (amf.Equal); a write of an equal value
// becomes a success event for its origin alone. A nil value removes the attribute.
// Remove and clear reach every subscriber, the writer too; send reaches every
// subscriber including the sender. Status events (access refusals) go to their origin
// only.
//
// A subscriber whose Deliver returns an error is dropped from the object at once and
// receives nothing more from it; its owner is expected to disconnect it (never silently
// skip a message).
//
// Lifetime: an object with no subscribers that is not acquired is idle. An idle
// transient object lingers for Options.Linger (default 5 s, as Red5) and is then
// removed with its state; an idle persistent object is unloaded from memory after the
// same delay (once its pending saves are done): its state is in the Store and it is
// loaded again on next use, so it keeps its scope alive no longer than a transient one.
// A Container is Empty when it holds no object, which is what a scope uses to decide
// whether the objects keep it alive.
//
// Attribute values are AMF values as package amf represents them; they are treated as
// immutable once handed to a SharedObject (they are shared by deliveries and snapshots).
//
// # Persistence
//
// A [Store] keeps whole objects (all attributes and the version) keyed by scope path and
// name. [BoltStore] writes each object as one bbolt value (a record holding the version
// and the attributes as one AMF0 strict array of alternating keys and values, AMF3-only
// values behind 0x11) in one bucket. Saves from all goroutines are grouped by a committer
// goroutine: everything pending when a transaction starts goes into it, so concurrent
// saves share one fsync. A save never replaces a stored state with an older version.
package sharedobject
