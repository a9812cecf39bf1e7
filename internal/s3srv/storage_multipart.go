package s3srv

// Multipart uploads on disk: an upload directory with one data file and
// sidecar per part, concatenated on completion.

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// createUpload assembles the upload directory under DIR/tmp and renames it
// into place, durably.
func (s *store) createUpload(bucket string, um uploadMeta) (_ string, err error) {
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	if _, err := s.bucketInfo(bucket); err != nil {
		return "", err
	}
	id := randHex(16)
	tmp, err := s.tempDir("mkupload")
	if err != nil {
		return "", err
	}
	defer func() {
		if err != nil && !isCrash(err) {
			_ = os.RemoveAll(tmp)
		}
	}()
	um.Version = sidecarVersion
	um.UploadID = id
	if err := s.writeJSONAtomic(filepath.Join(tmp, "upload.json"), um); err != nil {
		return "", err
	}
	if err := s.renameDurable(tmp, s.uploadDir(bucket, id)); err != nil {
		return "", err
	}
	return id, nil
}

// getUpload returns an upload's metadata; it must belong to key.
func (s *store) getUpload(bucket, key, id string) (uploadMeta, error) {
	var um uploadMeta
	if !uploadIDRE.MatchString(id) {
		return um, errStoreNoUpload
	}
	if _, err := s.bucketInfo(bucket); err != nil {
		return um, err
	}
	err := readJSON(filepath.Join(s.uploadDir(bucket, id), "upload.json"), &um)
	if errors.Is(err, fs.ErrNotExist) {
		return um, errStoreNoUpload
	}
	if err != nil {
		return um, err
	}
	if um.Key != key || um.UploadID != id {
		return um, errStoreNoUpload
	}
	return um, nil
}

func partJSON(n int) string { return fmt.Sprintf("part-%05d.json", n) }

// commitPart stores the filled temp file as part pm.PartNumber of upload id,
// replacing an earlier upload of the same part number.
func (s *store) commitPart(bucket, key, id string, data *os.File, pm partMeta) (err error) {
	discard := data.Name()
	defer func() {
		if err != nil && !isCrash(err) && discard != "" {
			_ = os.Remove(discard)
		}
	}()
	if err := s.finishTemp(data); err != nil {
		return err
	}
	s.bucketsMu.RLock()
	defer s.bucketsMu.RUnlock()
	l := s.upLock(id)
	l.Lock()
	defer l.Unlock()
	if _, err := s.getUpload(bucket, key, id); err != nil {
		return err
	}
	dir := s.uploadDir(bucket, id)
	pm.DataFile = fmt.Sprintf("part-%05d-%s.data", pm.PartNumber, randHex(8))
	if discard, err = s.placeData(data, dir, pm.DataFile); err != nil {
		return err
	}
	var old partMeta
	oldErr := readJSON(filepath.Join(dir, partJSON(pm.PartNumber)), &old)
	if err := s.writeJSONAtomic(filepath.Join(dir, partJSON(pm.PartNumber)), pm); err != nil {
		return err
	}
	discard = ""
	if oldErr == nil && partFileRE.MatchString(old.DataFile) && old.DataFile != pm.DataFile {
		_ = os.Remove(filepath.Join(dir, old.DataFile))
	}
	return nil
}

// listParts returns the parts of an upload sorted by part number.
func (s *store) listParts(bucket, key, id string) ([]partMeta, error) {
	if _, err := s.getUpload(bucket, key, id); err != nil {
		return nil, err
	}
	dir := s.uploadDir(bucket, id)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []partMeta
	for _, e := range ents {
		if !strings.HasPrefix(e.Name(), "part-") || !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		var pm partMeta
		if err := readJSON(filepath.Join(dir, e.Name()), &pm); err != nil {
			continue
		}
		if !partFileRE.MatchString(pm.DataFile) || e.Name() != partJSON(pm.PartNumber) {
			return nil, fmt.Errorf("%w: part sidecar %s", errStoreCorrupt, e.Name())
		}
		out = append(out, pm)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].PartNumber < out[j].PartNumber })
	return out, nil
}

// completeUpload concatenates the chosen parts (in order) into the object's
// data file, commits it with sidecar om and removes the upload.
func (s *store) completeUpload(bucket, key, id string, parts []partMeta, om objectMeta) error {
	l := s.upLock(id)
	l.Lock()
	defer l.Unlock()
	um, err := s.getUpload(bucket, key, id)
	if err != nil {
		return err
	}
	om.Tags = um.Tags
	om.PartSizes = make([]int64, len(parts))
	for i, p := range parts {
		om.PartSizes[i] = p.Size
	}
	dir := s.uploadDir(bucket, id)
	out, err := s.tempFile()
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := appendFile(out, filepath.Join(dir, p.DataFile), p.StoredSize); err != nil {
			discardTemp(out)
			return err
		}
	}
	if err := s.commitObject(bucket, key, out, om); err != nil {
		return err
	}
	return s.removeUploadDir(bucket, id)
}

func appendFile(dst *os.File, src string, want int64) error {
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.Copy(dst, f)
	if err != nil {
		return err
	}
	if n != want {
		return fmt.Errorf("%w: part file has %d bytes, sidecar says %d", errStoreCorrupt, n, want)
	}
	return nil
}

func (s *store) abortUpload(bucket, key, id string) error {
	l := s.upLock(id)
	l.Lock()
	defer l.Unlock()
	if _, err := s.getUpload(bucket, key, id); err != nil {
		return err
	}
	return s.removeUploadDir(bucket, id)
}

func (s *store) removeUploadDir(bucket, id string) error {
	return s.removeDirDurable(s.uploadDir(bucket, id), "rmupload")
}

// eachUpload calls fn with the record of every pending upload of bucket,
// reading the uploads directory in batches. An upload completed or aborted
// meanwhile is skipped.
func (s *store) eachUpload(bucket string, fn func(uploadMeta)) error {
	if _, err := s.bucketInfo(bucket); err != nil {
		return err
	}
	d, err := os.Open(filepath.Join(s.bucketDir(bucket), "uploads"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer d.Close()
	return eachDirEntry(d, func(e fs.DirEntry) (bool, error) {
		if !e.IsDir() || !uploadIDRE.MatchString(e.Name()) {
			return true, nil
		}
		var um uploadMeta
		err := readJSON(filepath.Join(s.uploadDir(bucket, e.Name()), "upload.json"), &um)
		if errors.Is(err, fs.ErrNotExist) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		if um.UploadID == e.Name() {
			fn(um)
		}
		return true, nil
	})
}
