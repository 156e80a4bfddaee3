package sharedobject

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/scopecast/scopecast/rtmp/amf"
)

// Store keeps persistent shared objects, whole (attributes and version), keyed by scope
// path and name. Implementations are safe for concurrent use.
type Store interface {
	// Load returns the stored state; found is false when there is none.
	Load(scopePath, name string) (attrs map[string]any, version uint32, found bool, err error)
	// Save makes the state durable before returning. It never replaces a stored state of
	// a higher version. Concurrent Saves may be grouped into one transaction.
	Save(scopePath, name string, attrs map[string]any, version uint32) error
	// Delete removes the stored state, if any.
	Delete(scopePath, name string) error
	// Close releases the store; later calls fail with ErrClosed.
	Close() error
}

// MemoryStore is a Store in memory (for tests and transient-only servers). The zero
// value is not usable; use NewMemoryStore.
type MemoryStore struct {
	mu     sync.Mutex
	m      map[storeKey]memRecord
	closed bool
}

type storeKey struct{ path, name string }

type memRecord struct {
	attrs   map[string]any
	version uint32
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: make(map[storeKey]memRecord)} }

// Load implements Store; it returns a copy of the attribute map.
func (s *MemoryStore) Load(scopePath, name string) (map[string]any, uint32, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, 0, false, ErrClosed
	}
	r, ok := s.m[storeKey{scopePath, name}]
	if !ok {
		return nil, 0, false, nil
	}
	return maps.Clone(r.attrs), r.version, true, nil
}

// Save implements Store; it keeps a copy of the attribute map.
func (s *MemoryStore) Save(scopePath, name string, attrs map[string]any, version uint32) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	k := storeKey{scopePath, name}
	if r, ok := s.m[k]; ok && r.version > version {
		return nil
	}
	s.m[k] = memRecord{maps.Clone(attrs), version}
	return nil
}

// Delete implements Store.
func (s *MemoryStore) Delete(scopePath, name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	delete(s.m, storeKey{scopePath, name})
	return nil
}

// Close implements Store.
func (s *MemoryStore) Close() error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return nil
}

// Record layout (BoltStore values): u8 recordMagic, u32 version, then one AMF0 strict
// array of alternating keys (strings) and values, in key order. AMF0 keeps ECMA arrays
// and numbers as they are; values AMF0 cannot express are AMF3 behind 0x11.
const recordMagic = 0x53 // 'S', format 1

// storeLimits bound decoding of stored records: generous (the data was ours), deep
// enough for any value the encoder accepts.
var storeLimits = amf.Limits{
	MaxDepth:     amf.MaxEncodeDepth + 2,
	MaxStringLen: 1 << 30,
	MaxElements:  1 << 24,
	MaxTotal:     1 << 28,
	MaxExpanded:  1 << 31,
}

func encodeRecord(dst []byte, attrs map[string]any, version uint32) ([]byte, error) {
	dst = append(dst, recordMagic)
	dst = binary.BigEndian.AppendUint32(dst, version)
	kv := make([]any, 0, 2*len(attrs))
	for _, k := range slices.Sorted(maps.Keys(attrs)) {
		kv = append(kv, k, attrs[k])
	}
	return amf.AppendAMF0(dst, kv)
}

func decodeRecord(b []byte) (map[string]any, uint32, error) {
	version, ok := recordVersion(b)
	if !ok {
		return nil, 0, fmt.Errorf("bad record header (%d bytes)", len(b))
	}
	d := amf.NewDecoder(b[5:], storeLimits)
	v, err := d.ReadAMF0()
	if err != nil {
		return nil, 0, err
	}
	if d.Len() != 0 {
		return nil, 0, fmt.Errorf("%d bytes after the record", d.Len())
	}
	kv, ok := v.([]any)
	if !ok || len(kv)%2 != 0 {
		return nil, 0, fmt.Errorf("record is %T, not a key/value array", v)
	}
	attrs := make(map[string]any, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k, ok := kv[i].(string)
		if !ok {
			return nil, 0, fmt.Errorf("record key %d is %T", i/2, kv[i])
		}
		attrs[k] = kv[i+1]
	}
	return attrs, version, nil
}

// recordVersion reads a record's header: its version, and whether it is one.
func recordVersion(b []byte) (uint32, bool) {
	if len(b) < 5 || b[0] != recordMagic {
		return 0, false
	}
	return binary.BigEndian.Uint32(b[1:]), true
}
