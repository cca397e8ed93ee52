package buildcache

import (
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

func TestGetPut(t *testing.T) {
	c, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	dep := filepath.Join(dir, "a.h")
	out := filepath.Join(dir, "x.o")
	os.WriteFile(dep, []byte("one"), 0o644)
	os.WriteFile(out, []byte("object"), 0o644)
	key := Key([]byte("src"), []byte("flags"))
	if _, ok := c.Get(key); ok {
		t.Fatal("hit in an empty cache")
	}
	d, err := NewDep(dep)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Put(key, map[string]string{"x.o": out}, []Dep{d}); err != nil {
		t.Fatal(err)
	}
	e, ok := c.Get(key)
	if !ok {
		t.Fatal("miss after put")
	}
	if b, _ := os.ReadFile(e.Path("x.o")); string(b) != "object" {
		t.Fatalf("content %q", b)
	}
	// Same content, new mtime: still a hit (content is hashed when stat differs).
	later := time.Now().Add(time.Hour)
	os.Chtimes(dep, later, later)
	if _, ok := c.Get(key); !ok {
		t.Fatal("touching a dependency without changing it made a miss")
	}
	// Changed content of the same size: a miss.
	os.WriteFile(dep, []byte("two"), 0o644)
	if _, ok := c.Get(key); ok {
		t.Fatal("changed dependency still hits")
	}
	// Deleted dependency: a miss.
	os.Remove(dep)
	if _, ok := c.Get(key); ok {
		t.Fatal("deleted dependency still hits")
	}
	// Re-put over a stale entry.
	os.WriteFile(dep, []byte("three"), 0o644)
	d, _ = NewDep(dep)
	os.WriteFile(out, []byte("object2"), 0o644)
	if _, err := c.Put(key, map[string]string{"x.o": out}, []Dep{d}); err != nil {
		t.Fatal(err)
	}
	e, ok = c.Get(key)
	if b, _ := os.ReadFile(e.Path("x.o")); !ok || string(b) != "object2" {
		t.Fatalf("after re-put: %v %q", ok, b)
	}
}

func TestKeyIsUnambiguous(t *testing.T) {
	if Key([]byte("ab"), []byte("c")) == Key([]byte("a"), []byte("bc")) {
		t.Fatal("parts are not separated")
	}
}

// Concurrent writers of one key never leave a broken entry.
func TestConcurrentPut(t *testing.T) {
	c, _ := Open(t.TempDir())
	dir := t.TempDir()
	out := filepath.Join(dir, "x.o")
	os.WriteFile(out, []byte("object"), 0o644)
	key := Key([]byte("k"))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Put(key, map[string]string{"x.o": out}, nil); err != nil {
				t.Error(err)
			}
			if e, ok := c.Get(key); ok {
				if b, _ := os.ReadFile(e.Path("x.o")); string(b) != "object" {
					t.Errorf("partial entry: %q", b)
				}
			}
		}()
	}
	wg.Wait()
	if _, ok := c.Get(key); !ok {
		t.Fatal("no entry after concurrent puts")
	}
	ents, _ := os.ReadDir(filepath.Join(c.Dir(), key[:2]))
	if len(ents) != 1 {
		t.Fatalf("left temporary folders: %v", ents)
	}
}
