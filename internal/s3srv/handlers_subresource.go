package s3srv

// Bucket and object subresources: versioning, versions, delete, tagging, acl,
// and the bucket configurations this server does not keep, answered as S3
// answers for a bucket that has none configured.

import (
	"encoding/xml"
	"net/http"
)

// notConfigured is the S3 error for reading a bucket configuration that was
// never set ("" for those that S3 answers with an empty document instead).
func notConfigured(sub string) *Error {
	switch sub {
	case "lifecycle":
		return s3err("NoSuchLifecycleConfiguration", http.StatusNotFound, "The lifecycle configuration does not exist")
	case "cors":
		return s3err("NoSuchCORSConfiguration", http.StatusNotFound, "The CORS configuration does not exist")
	case "policy", "policyStatus":
		return s3err("NoSuchBucketPolicy", http.StatusNotFound, "The bucket policy does not exist")
	case "website":
		return s3err("NoSuchWebsiteConfiguration", http.StatusNotFound, "The specified bucket does not have a website configuration")
	case "tagging":
		return s3err("NoSuchTagSet", http.StatusNotFound, "The TagSet does not exist")
	case "object-lock":
		return s3err("ObjectLockConfigurationNotFoundError", http.StatusNotFound, "Object Lock configuration does not exist for this bucket")
	case "ownershipControls":
		return s3err("OwnershipControlsNotFoundError", http.StatusNotFound, "The bucket ownership controls were not found")
	case "publicAccessBlock":
		return s3err("NoSuchPublicAccessBlockConfiguration", http.StatusNotFound, "The public access block configuration was not found")
	case "replication":
		return s3err("ReplicationConfigurationNotFoundError", http.StatusNotFound, "The replication configuration was not found")
	}
	return nil
}

// emptyConfiguration is the document S3 returns for a bucket configuration
// that is off by default (nil for the others).
func emptyConfiguration(sub string) any {
	type doc struct {
		XMLName xml.Name
		Xmlns   string `xml:"xmlns,attr"`
		Payer   string `xml:"Payer,omitempty"`
	}
	switch sub {
	case "logging":
		return doc{XMLName: xml.Name{Local: "BucketLoggingStatus"}, Xmlns: s3NS}
	case "notification":
		return doc{XMLName: xml.Name{Local: "NotificationConfiguration"}, Xmlns: s3NS}
	case "accelerate":
		return doc{XMLName: xml.Name{Local: "AccelerateConfiguration"}, Xmlns: s3NS}
	case "requestPayment":
		return doc{XMLName: xml.Name{Local: "RequestPaymentConfiguration"}, Xmlns: s3NS, Payer: "BucketOwner"}
	}
	return nil
}

func errUnsupportedSubresource(sub string) *Error {
	return errNotImplemented("This server does not implement the " + sub + " subresource for this request.")
}

func (s *Server) routeBucketSubresource(w http.ResponseWriter, r *http.Request, bucket, sub string) error {
	switch {
	case sub == "versions" && r.Method == http.MethodGet:
		return s.listObjectVersions(w, r, bucket)
	case sub == "delete" && r.Method == http.MethodPost:
		return s.deleteObjects(w, r, bucket)
	case sub == "versioning" && r.Method == http.MethodGet:
		return s.getBucketVersioning(w, bucket)
	case sub == "versioning" && r.Method == http.MethodPut:
		return s.putBucketVersioning(w, r, bucket)
	case sub == "acl" && r.Method == http.MethodGet:
		if _, err := s.store.bucketInfo(bucket); err != nil {
			return err
		}
		return s.writeXML(w, ownerFullControl())
	case r.Method == http.MethodGet && (notConfigured(sub) != nil || emptyConfiguration(sub) != nil):
		if _, err := s.store.bucketInfo(bucket); err != nil {
			return err
		}
		if e := notConfigured(sub); e != nil {
			return e
		}
		return s.writeXML(w, emptyConfiguration(sub))
	case r.Method == http.MethodDelete && notConfigured(sub) != nil:
		// Deleting a configuration that is not there succeeds, as in S3.
		if _, err := s.store.bucketInfo(bucket); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
	return errUnsupportedSubresource(sub)
}

func (s *Server) routeObjectSubresource(w http.ResponseWriter, r *http.Request, bucket, key, sub string) error {
	switch {
	case sub == "tagging" && r.Method == http.MethodGet:
		return s.getObjectTagging(w, r, bucket, key)
	case sub == "tagging" && r.Method == http.MethodPut:
		return s.putObjectTagging(w, r, bucket, key)
	case sub == "tagging" && r.Method == http.MethodDelete:
		return s.deleteObjectTagging(w, r, bucket, key)
	case sub == "acl" && r.Method == http.MethodGet:
		if _, err := s.objectMetaFor(r, bucket, key); err != nil {
			return err
		}
		return s.writeXML(w, ownerFullControl())
	}
	return errUnsupportedSubresource(sub)
}

// accessControlPolicy is GetBucketAcl's and GetObjectAcl's answer: the
// owner has FULL_CONTROL (this server has no ACLs).
type accessControlPolicy struct {
	XMLName xml.Name `xml:"AccessControlPolicy"`
	Xmlns   string   `xml:"xmlns,attr"`
	Owner   owner    `xml:"Owner"`
	Grants  []grant  `xml:"AccessControlList>Grant"`
}

type grant struct {
	Grantee    grantee `xml:"Grantee"`
	Permission string  `xml:"Permission"`
}

type grantee struct {
	XMLNSXSI    string `xml:"xmlns:xsi,attr"`
	Type        string `xml:"xsi:type,attr"`
	ID          string `xml:"ID"`
	DisplayName string `xml:"DisplayName"`
}

func serverOwner() owner { return owner{ID: "s3server", DisplayName: "s3server"} }

func ownerFullControl() accessControlPolicy {
	o := serverOwner()
	return accessControlPolicy{Xmlns: s3NS, Owner: o, Grants: []grant{{
		Grantee:    grantee{XMLNSXSI: "http://www.w3.org/2001/XMLSchema-instance", Type: "CanonicalUser", ID: o.ID, DisplayName: o.DisplayName},
		Permission: "FULL_CONTROL",
	}}}
}

// versioningConfiguration is the body of Put/GetBucketVersioning.
type versioningConfiguration struct {
	XMLName   xml.Name `xml:"VersioningConfiguration"`
	Xmlns     string   `xml:"xmlns,attr,omitempty"`
	Status    string   `xml:"Status,omitempty"`
	MFADelete string   `xml:"MfaDelete,omitempty"`
}

// getBucketVersioning answers no status for a bucket that was never
// versioned, as S3 does, and Suspended once PutBucketVersioning said so.
func (s *Server) getBucketVersioning(w http.ResponseWriter, bucket string) error {
	bm, err := s.store.bucketInfo(bucket)
	if err != nil {
		return err
	}
	return s.writeXML(w, versioningConfiguration{Xmlns: s3NS, Status: bm.Versioning})
}

// putBucketVersioning accepts Suspended, which is what an unversioned
// bucket already does (every object has the one version "null"), and
// records it so GetBucketVersioning answers it, as on S3. Enabled, and MFA
// delete, are not implemented: this server keeps one version per key.
func (s *Server) putBucketVersioning(w http.ResponseWriter, r *http.Request, bucket string) error {
	if _, err := s.store.bucketInfo(bucket); err != nil {
		return err
	}
	var c versioningConfiguration
	if err := s.readXMLPayload(r, &c, maxVersioningBody, false); err != nil {
		return err
	}
	switch {
	case c.Status == "Enabled" || c.MFADelete == "Enabled":
		return errNotImplemented("Bucket versioning is not implemented: a bucket keeps one version of each key (Status Suspended is accepted).")
	case c.Status != "Suspended" || (c.MFADelete != "" && c.MFADelete != "Disabled"):
		return errMalformedXML()
	}
	if err := s.store.updateBucket(bucket, func(bm *bucketMeta) { bm.Versioning = c.Status }); err != nil {
		return err
	}
	w.WriteHeader(http.StatusOK)
	return nil
}

// maxVersioningBody bounds a PutBucketVersioning body.
const maxVersioningBody = 64 << 10
