package bill

import (
	"context"
	"io/fs"
	"strings"
	"sync"
	"testing"
	"time"
)

const sha = "79bb0f45fc4c42234a918000b2668d689e2bde04"

func TestFind(t *testing.T) {
	now := time.Unix(1700000000, 0)
	trade := `{"hash_type":"SHA1","hash_value":"` + strings.ToUpper(sha) + `","download_url":" https://api.mch.weixin.qq.com/v3/billdownload/file?token=abc"}`
	recs, skipped := Find([]byte(trade), time.Minute, now)
	if skipped != 0 || len(recs) != 1 {
		t.Fatalf("trade bill: %d records, %d skipped", len(recs), skipped)
	}
	if r := recs[0]; r.Key != "/v3/billdownload/file?token=abc" || r.HashValue != sha || r.Encrypted() || !r.Expires.Equal(now.Add(time.Minute)) {
		t.Errorf("trade bill record %+v", r)
	}

	sub := `{"download_bill_count":2,"download_bill_list":[` +
		`{"bill_sequence":1,"download_url":"https://api.mch.weixin.qq.com/v3/bill/downloadurl?token=p1","encrypt_key":"ZW5j","hash_type":"SHA1","hash_value":"` + sha + `","nonce":"a8607ef79034c49c"},` +
		`{"bill_sequence":2,"download_url":"https://api.mch.weixin.qq.com/v3/billdownload/file?token=p2","encrypt_key":"ZW5j","hash_type":"SHA1","hash_value":"` + sha + `","nonce":"b8607ef79034c49c"}]}`
	recs, skipped = Find([]byte(sub), time.Minute, now)
	if skipped != 0 || len(recs) != 2 {
		t.Fatalf("sub-merchant bill: %d records, %d skipped", len(recs), skipped)
	}
	if r := recs[1]; r.Key != "/v3/billdownload/file?token=p2" || r.Sequence != 2 || r.EncryptKey != "ZW5j" || r.Nonce != "b8607ef79034c49c" {
		t.Errorf("second part %+v", r)
	}

	for name, body := range map[string]string{
		"no hash":             `{"download_url":"https://x/v3/billdownload/file?token=a"}`,
		"another hash type":   `{"download_url":"https://x/v3/billdownload/file?token=a","hash_type":"SM3","hash_value":"` + sha + `"}`,
		"hash not hex":        `{"download_url":"https://x/v3/billdownload/file?token=a","hash_type":"SHA1","hash_value":"zz"}`,
		"key without nonce":   `{"download_url":"https://x/v3/billdownload/file?token=a","hash_type":"SHA1","hash_value":"` + sha + `","encrypt_key":"ZW5j"}`,
		"url without a path":  `{"download_url":"token=a","hash_type":"SHA1","hash_value":"` + sha + `"}`,
		"download_url number": `{"download_url":1,"hash_type":"SHA1","hash_value":"` + sha + `"}`,
	} {
		recs, skipped := Find([]byte(body), time.Minute, now)
		want := 1
		if name == "download_url number" || name == "no hash" {
			want = 0 // not a bill's download, or not a download
		}
		if len(recs) != 0 || skipped != want {
			t.Errorf("%s: %d records, %d skipped", name, len(recs), skipped)
		}
	}
	if recs, _ := Find([]byte(`{"download_url":`), time.Minute, now); recs != nil {
		t.Error("records from JSON that is not whole")
	}
	if recs, _ := Find([]byte(`{"code":"OK"}`), time.Minute, now); recs != nil {
		t.Error("records from an answer without downloads")
	}
}

// memStorage is a map with certmagic's storage semantics for what Store uses.
type memStorage struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStorage) Store(_ context.Context, k string, v []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[k] = v
	return nil
}

func (s *memStorage) Load(_ context.Context, k string) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.m[k]
	if !ok {
		return nil, fs.ErrNotExist
	}
	return v, nil
}

func (s *memStorage) Delete(_ context.Context, k string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.m, k)
	return nil
}

func (s *memStorage) List(_ context.Context, prefix string, _ bool) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for k := range s.m {
		if strings.HasPrefix(k, prefix+"/") {
			out = append(out, k)
		}
	}
	if out == nil {
		return nil, fs.ErrNotExist
	}
	return out, nil
}

func TestStoreSharedAndExpiry(t *testing.T) {
	ctx := context.Background()
	ms := &memStorage{m: map[string][]byte{}}
	clock := time.Unix(1700000000, 0)
	now := func() time.Time { return clock }
	one, other := NewStore(ms, "1900000109", now), NewStore(ms, "1900000109", now)
	rec := Record{Key: "/v3/billdownload/file?token=abc", HashType: "SHA1", HashValue: sha, EncryptKey: "ZW5j", Nonce: "n", Expires: clock.Add(time.Minute)}
	if err := one.Put(ctx, []Record{rec}); err != nil {
		t.Fatal(err)
	}
	for k := range ms.m {
		if strings.Contains(k, "abc") {
			t.Errorf("storage key %q names the token", k)
		}
	}
	got, found, err := other.Get(ctx, rec.Key)
	if err != nil || !found || !got.Expires.Equal(rec.Expires) || got.EncryptKey != rec.EncryptKey || got.HashValue != rec.HashValue {
		t.Fatalf("the other instance: %+v %v %v", got, found, err)
	}
	if _, found, _ := NewStore(ms, "1900000110", now).Get(ctx, rec.Key); found {
		t.Error("another merchant's store found the record")
	}
	if _, found, _ := other.Get(ctx, rec.Key+"x"); found {
		t.Error("a record for another token")
	}
	clock = clock.Add(2 * time.Minute)
	if _, found, _ := one.Get(ctx, rec.Key); found {
		t.Error("an expired record in memory counted")
	}
	if _, found, _ := NewStore(ms, "1900000109", now).Get(ctx, rec.Key); found {
		t.Error("an expired record in the storage counted")
	}
	_ = one.Put(ctx, []Record{{Key: "/k", Expires: clock.Add(-time.Second)}, {Key: "/live", Expires: clock.Add(time.Minute)}})
	n, err := one.Sweep(ctx)
	if err != nil || n != 1 || len(ms.m) != 1 {
		t.Fatalf("sweep removed %d (%v), %d left", n, err, len(ms.m))
	}
	if !one.SweepDue(time.Hour) || one.SweepDue(time.Hour) {
		t.Error("SweepDue is not once per period")
	}
}
