package testkit

import (
	"context"
	"io/fs"
	"strings"
	"sync"
)

// MemStorage is an in-memory storage with the methods of certmagic.Storage
// that the callback records use (Lock, Unlock, Store, Load, Delete, List),
// and failures a test injects with FailOn.
type MemStorage struct {
	mu      sync.Mutex
	data    map[string][]byte
	locks   map[string]chan struct{}
	failOps map[string]error
	stores  int
}

// NewMemStorage returns an empty MemStorage.
func NewMemStorage() *MemStorage {
	return &MemStorage{data: map[string][]byte{}, locks: map[string]chan struct{}{}, failOps: map[string]error{}}
}

// FailOn makes every later call of op ("lock", "store", "load" or "list")
// fail with err; a nil err ends the failure.
func (m *MemStorage) FailOn(op string, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err == nil {
		delete(m.failOps, op)
		return
	}
	m.failOps[op] = err
}

func (m *MemStorage) fail(op string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.failOps[op]
}

// Lock takes the lock name, waiting while another holder has it.
func (m *MemStorage) Lock(ctx context.Context, name string) error {
	if err := m.fail("lock"); err != nil {
		return err
	}
	for {
		m.mu.Lock()
		ch, held := m.locks[name]
		if !held {
			m.locks[name] = make(chan struct{})
			m.mu.Unlock()
			return nil
		}
		m.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Unlock releases the lock name.
func (m *MemStorage) Unlock(_ context.Context, name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if ch, ok := m.locks[name]; ok {
		close(ch)
		delete(m.locks, name)
	}
	return nil
}

// Store sets key to a copy of value.
func (m *MemStorage) Store(_ context.Context, key string, value []byte) error {
	if err := m.fail("store"); err != nil {
		return err
	}
	m.Put(key, value)
	return nil
}

// Put sets key to a copy of value, as Store does, never failing.
func (m *MemStorage) Put(key string, value []byte) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.data[key] = append([]byte(nil), value...)
	m.stores++
}

// Load returns the value of key, or an error wrapping fs.ErrNotExist.
func (m *MemStorage) Load(_ context.Context, key string) ([]byte, error) {
	if err := m.fail("load"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.data[key]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}

// Delete removes key.
func (m *MemStorage) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.data, key)
	return nil
}

// List returns the keys under prefix, or fs.ErrNotExist when there are none.
func (m *MemStorage) List(_ context.Context, prefix string, _ bool) ([]string, error) {
	if err := m.fail("list"); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.data {
		if strings.HasPrefix(k, prefix+"/") {
			out = append(out, k)
		}
	}
	if len(out) == 0 {
		return nil, fs.ErrNotExist
	}
	return out, nil
}

// Keys returns every key stored.
func (m *MemStorage) Keys() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []string
	for k := range m.data {
		out = append(out, k)
	}
	return out
}

// Stores counts the values stored (Store and Put).
func (m *MemStorage) Stores() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.stores
}
