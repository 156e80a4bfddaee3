package sharedobject

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

var boltBucket = []byte("sharedobjects")

// BoltStore is a Store in a bbolt file. Saves are grouped: a committer goroutine writes
// everything pending when it starts a transaction in that one transaction (one fsync)
// and then wakes the savers, so concurrent saves share fsyncs without any added delay.
// (bbolt's DB.Batch would group too, but waits up to MaxBatchDelay before committing
// and may run a function twice.) Keys are scope path, NUL, name; values are records of
// the whole object (see encodeRecord).
type BoltStore struct {
	db   *bolt.DB
	path string

	mu      sync.Mutex
	pending []*saveReq
	closed  bool
	kick    chan struct{}
	quit    chan struct{}
	done    chan struct{}

	commits atomic.Uint64
	saves   atomic.Uint64
}

type saveReq struct {
	key     []byte
	val     []byte // nil: delete
	version uint32
	err     error
	done    chan struct{}
}

// OpenBolt opens (creating it and its directories if needed) the store file at path and
// checks it: the file's structure (bbolt's consistency check) and every stored record.
// A damaged file gives an error wrapping ErrDamaged that names the file; the store then
// stays closed and the file untouched.
func OpenBolt(path string) (*BoltStore, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrStore, err)
	}
	db, err := openBolt(path)
	if err != nil {
		return nil, err
	}
	if err := check(db, path); err != nil {
		db.Close()
		return nil, err
	}
	s := &BoltStore{db: db, path: path, kick: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	go s.commit()
	return s, nil
}

func openBolt(path string) (db *bolt.DB, err error) {
	defer func() {
		if r := recover(); r != nil {
			db, err = nil, fmt.Errorf("%w: %s: %v", ErrDamaged, path, r)
		}
	}()
	db, err = bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		if errors.Is(err, bolt.ErrTimeout) {
			return nil, fmt.Errorf("%w: %s is locked by another process: %w", ErrStore, path, err)
		}
		return nil, fmt.Errorf("%w: %s: %w", ErrDamaged, path, err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		_, err := tx.CreateBucketIfNotExists(boltBucket)
		return err
	})
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("%w: %s: %w", ErrDamaged, path, err)
	}
	return db, nil
}

// check runs bbolt's consistency check and decodes every record.
func check(db *bolt.DB, path string) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: %s: %v", ErrDamaged, path, r)
		}
	}()
	return db.View(func(tx *bolt.Tx) error {
		var errs []error
		for e := range tx.Check() {
			if len(errs) < 5 {
				errs = append(errs, e)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("%w: %s: %w", ErrDamaged, path, errors.Join(errs...))
		}
		b := tx.Bucket(boltBucket)
		if b == nil {
			return fmt.Errorf("%w: %s: bucket missing", ErrDamaged, path)
		}
		return b.ForEach(func(k, v []byte) error {
			if _, _, err := decodeRecord(v); err != nil {
				return fmt.Errorf("%w: %s: record %q: %w", ErrDamaged, path, k, err)
			}
			return nil
		})
	})
}

// Path returns the file's path.
func (s *BoltStore) Path() string { return s.path }

// Commits returns the number of write transactions committed so far.
func (s *BoltStore) Commits() uint64 { return s.commits.Load() }

// Saves returns the number of saves and deletes committed so far.
func (s *BoltStore) Saves() uint64 { return s.saves.Load() }

func boltKey(scopePath, name string) []byte {
	k := make([]byte, 0, len(scopePath)+1+len(name))
	k = append(k, scopePath...)
	k = append(k, 0)
	return append(k, name...)
}

// Load implements Store.
func (s *BoltStore) Load(scopePath, name string) (attrs map[string]any, version uint32, found bool, err error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return nil, 0, false, ErrClosed
	}
	k := boltKey(scopePath, name)
	err = s.db.View(func(tx *bolt.Tx) error {
		v := tx.Bucket(boltBucket).Get(k)
		if v == nil {
			return nil
		}
		found = true
		var derr error
		attrs, version, derr = decodeRecord(v)
		if derr != nil {
			return fmt.Errorf("%w: %s: record %q: %w", ErrDamaged, s.path, k, derr)
		}
		return nil
	})
	if err != nil {
		return nil, 0, false, err
	}
	return attrs, version, found, nil
}

// Save implements Store: it returns once the transaction holding the state committed.
func (s *BoltStore) Save(scopePath, name string, attrs map[string]any, version uint32) error {
	val, err := encodeRecord(nil, attrs, version)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadValue, err)
	}
	return s.submit(&saveReq{key: boltKey(scopePath, name), val: val, version: version})
}

// Delete implements Store.
func (s *BoltStore) Delete(scopePath, name string) error {
	return s.submit(&saveReq{key: boltKey(scopePath, name)})
}

func (s *BoltStore) submit(r *saveReq) error {
	r.done = make(chan struct{})
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.pending = append(s.pending, r)
	s.mu.Unlock()
	select {
	case s.kick <- struct{}{}:
	default:
	}
	<-r.done
	return r.err
}

// commit is the committer goroutine: it writes everything pending in one transaction,
// wakes the savers, and repeats; after Close it finishes what is pending and exits.
func (s *BoltStore) commit() {
	defer close(s.done)
	for {
		select {
		case <-s.kick:
		case <-s.quit:
			s.mu.Lock()
			n := len(s.pending)
			s.mu.Unlock()
			if n == 0 {
				return
			}
		}
		s.mu.Lock()
		batch := s.pending
		s.pending = nil
		s.mu.Unlock()
		if len(batch) == 0 {
			continue
		}
		err := s.db.Update(func(tx *bolt.Tx) error {
			b := tx.Bucket(boltBucket)
			for _, r := range batch {
				if r.val == nil {
					if err := b.Delete(r.key); err != nil {
						return err
					}
					continue
				}
				if old, ok := recordVersion(b.Get(r.key)); ok && old > r.version {
					continue // a newer state is already there
				}
				if err := b.Put(r.key, r.val); err != nil {
					return err
				}
			}
			return nil
		})
		if err == nil {
			s.commits.Add(1)
			s.saves.Add(uint64(len(batch)))
		} else {
			err = fmt.Errorf("%w: %s: %w", ErrStore, s.path, err)
		}
		for _, r := range batch {
			r.err = err
			close(r.done)
		}
	}
}

// Close waits for the pending saves, stops the committer and closes the file.
func (s *BoltStore) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	close(s.quit)
	<-s.done
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("%w: closing %s: %w", ErrStore, s.path, err)
	}
	return nil
}
