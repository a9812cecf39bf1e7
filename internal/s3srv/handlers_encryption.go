package s3srv

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"

	"github.com/envkms/kms"
	"github.com/envkms/kms/sse"
)

const maxXMLBody = 1 << 20

// readXML decodes a small XML request body into v.
func readXML(r *http.Request, v any) error {
	b, err := io.ReadAll(io.LimitReader(r.Body, maxXMLBody+1))
	if err != nil {
		return errIncompleteBody()
	}
	if len(b) > maxXMLBody {
		return errMalformedXML()
	}
	if err := xml.Unmarshal(b, v); err != nil {
		return errMalformedXML()
	}
	return nil
}

func (s *Server) putBucketEncryption(w http.ResponseWriter, r *http.Request, bucket string) error {
	if s.cfg.DisableEncryption {
		return errNotImplemented("Encryption is disabled on this server.")
	}
	if _, err := s.store.bucketInfo(bucket); err != nil {
		return err
	}
	var c serverSideEncryptionConfiguration
	if err := readXML(r, &c); err != nil {
		return err
	}
	if len(c.Rules) != 1 || c.Rules[0].Default == nil {
		return errMalformedXML()
	}
	d := c.Rules[0].Default
	bke := c.Rules[0].BucketKeyEnabled != nil && *c.Rules[0].BucketKeyEnabled
	req, err := sse.BucketDefault(d.SSEAlgorithm, d.KMSMasterKeyID, bke)
	if err != nil {
		return err
	}
	if req.Kind == sse.KindKMS && req.KMSKeyID != "" {
		if _, err := s.m.DescribeKey(r.Context(), req.KMSKeyID); err != nil {
			if errors.Is(err, kms.ErrKeyNotFound) {
				return s3err("KMS.NotFoundException", http.StatusBadRequest, "The KMS key does not exist.")
			}
			return err
		}
	}
	enc := &bucketEncryption{Algorithm: string(req.Kind), KMSKeyID: req.KMSKeyID, BucketKeyEnabled: req.BucketKeyEnabled}
	if err := s.store.updateBucket(bucket, func(bm *bucketMeta) { bm.Encryption = enc }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// getBucketEncryption answers the bucket's default encryption. A bucket
// without one still encrypts new objects with SSE-S3 (as S3 does since
// 2023), and says so.
func (s *Server) getBucketEncryption(w http.ResponseWriter, _ *http.Request, bucket string) error {
	if s.cfg.DisableEncryption {
		return errNoEncryptionConfig()
	}
	bm, err := s.store.bucketInfo(bucket)
	if err != nil {
		return err
	}
	enc := bm.Encryption
	if enc == nil {
		enc = &bucketEncryption{Algorithm: string(sse.KindS3)}
	}
	bke := enc.BucketKeyEnabled
	return s.writeXML(w, serverSideEncryptionConfiguration{
		Xmlns: s3NS,
		Rules: []encryptionRuleXML{{
			Default:          &encryptionDefaultXML{SSEAlgorithm: enc.Algorithm, KMSMasterKeyID: enc.KMSKeyID},
			BucketKeyEnabled: &bke,
		}},
	})
}

func (s *Server) deleteBucketEncryption(w http.ResponseWriter, _ *http.Request, bucket string) error {
	if err := s.store.updateBucket(bucket, func(bm *bucketMeta) { bm.Encryption = nil }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// encryptionFor returns the encryption a new object gets: what the request
// asks for, else the bucket default, else SSE-S3.
func (s *Server) encryptionFor(r *http.Request, bucket string) (*sse.Request, error) {
	bm, err := s.store.bucketInfo(bucket)
	if err != nil {
		return nil, err
	}
	req, err := sse.ParsePut(r.Header, r.TLS != nil, sse.AllowInsecureSSEC(s.cfg.AllowInsecureSSEC))
	if err != nil {
		return nil, err
	}
	def := &sse.Request{Kind: sse.KindS3}
	if e := bm.Encryption; e != nil {
		if def, err = sse.BucketDefault(e.Algorithm, e.KMSKeyID, e.BucketKeyEnabled); err != nil {
			return nil, errInternal(err)
		}
	}
	return req.OrDefault(def), nil
}
