package vault

import (
	"testing"
	"time"

	"github.com/envkms/kms/backend"
)

// TestRotationDue: by the latest version's age under the period, and by
// the data keys this Backend wrapped under it.
func TestRotationDue(t *testing.T) {
	b := &Backend{wraps: wrapCounts{m: map[wrapKey]uint64{}}}
	rec := &record{Format: recordFormat, KeyID: "k", State: string(backend.KeyStateEnabled)}
	fresh := transitKey{LatestVersion: 2, LatestCreated: time.Now().Add(-time.Hour), AutoRotatePeriod: 24 * time.Hour}
	if md := b.keyMetadata(rec, fresh); md.RotationDue || md.RotationPeriod != 24*time.Hour || md.Version != 2 {
		t.Fatalf("fresh version: %+v", md)
	}
	old := fresh
	old.LatestCreated = time.Now().Add(-25 * time.Hour)
	if md := b.keyMetadata(rec, old); !md.RotationDue {
		t.Fatalf("version older than the period: %+v", md)
	}
	off := old
	off.AutoRotatePeriod = 0
	if md := b.keyMetadata(rec, off); md.RotationDue {
		t.Fatalf("no period: %+v", md)
	}
	b.wraps.add("k", 1, backend.MaxDataKeysPerVersion) // an older version: irrelevant
	b.wraps.add("k", 2, backend.MaxDataKeysPerVersion-1)
	if md := b.keyMetadata(rec, off); md.RotationDue {
		t.Fatalf("below the data-key bound: %+v", md)
	}
	b.wraps.add("k", 2, 1)
	if md := b.keyMetadata(rec, off); !md.RotationDue {
		t.Fatalf("at the data-key bound: %+v", md)
	}
}
