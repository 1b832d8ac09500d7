// Package s3source reads registry files from S3 and writes the import's
// error files beside them. Its errors do not name the key: a file name is
// whatever the uploader typed, and errors end up in logs. An import reads its file in several Lambda
// invocations; each resumes with a ranged GET from its checkpoint, pinned
// to the object it began with, so a file replaced meanwhile is never read
// half old, half new.
package s3source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"gridcode/shared/registry"
)

// API is the part of the S3 client this package calls.
type API interface {
	HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	GetObject(context.Context, *s3.GetObjectInput, ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(context.Context, *s3.PutObjectInput, ...func(*s3.Options)) (*s3.PutObjectOutput, error)
}

var (
	// ErrMissing means the object is not there (deleted since the event).
	ErrMissing = errors.New("s3source: object not found")
	// ErrChanged means the object is no longer the version the import
	// began with: it was overwritten, and the new upload has its own event.
	ErrChanged = errors.New("s3source: object changed since the import began")
)

// Client reads and writes objects.
type Client struct {
	API API
}

// New builds the S3 client once, outside the handler; endpoint points it
// at a local S3 in tests, which is addressed path-style.
func New(cfg aws.Config, endpoint string) Client {
	return Client{API: s3.NewFromConfig(cfg, func(o *s3.Options) {
		// A ranged GET comes without the object's checksum, so every
		// resumed read would log, in plain text among the JSON lines, that
		// it was not validated. Whole objects uploaded with a checksum are
		// still validated.
		o.DisableLogOutputChecksumValidationSkipped = true
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			o.UsePathStyle = true
		}
	})}
}

// Source is the object as a registry.Source, pinned to versionID when the
// bucket is versioned, else to eTag (either may be empty: then the object
// is read as it is at each call).
func (c Client) Source(bucket, key, versionID, eTag string) registry.Source {
	return Object{API: c.API, Bucket: bucket, Key: key, VersionID: versionID, ETag: eTag}
}

// Object is one S3 object read as a registry file.
type Object struct {
	API             API
	Bucket, Key     string
	VersionID, ETag string
}

var _ registry.Source = Object{}

// Size implements registry.Source with HeadObject.
func (o Object) Size(ctx context.Context) (int64, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)}
	o.pinHead(in)
	out, err := o.API.HeadObject(ctx, in)
	if err != nil {
		return 0, fmt.Errorf("head object: %w", mapErr(err))
	}
	return aws.ToInt64(out.ContentLength), nil
}

// Open implements registry.Source with a GetObject from offset on.
func (o Object) Open(ctx context.Context, offset int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(o.Bucket), Key: aws.String(o.Key)}
	if o.VersionID != "" {
		in.VersionId = aws.String(o.VersionID)
	} else if o.ETag != "" {
		in.IfMatch = aws.String(quote(o.ETag))
	}
	if offset > 0 {
		in.Range = aws.String("bytes=" + strconv.FormatInt(offset, 10) + "-")
	}
	out, err := o.API.GetObject(ctx, in)
	if err != nil {
		err = mapErr(err)
		if errors.Is(err, errPastEnd) {
			// A checkpoint at the very end of the file (the last chunk
			// ended the run just before its deadline): nothing is left.
			return io.NopCloser(bytes.NewReader(nil)), nil
		}
		return nil, fmt.Errorf("get object from byte %d: %w", offset, err)
	}
	return out.Body, nil
}

func (o Object) pinHead(in *s3.HeadObjectInput) {
	if o.VersionID != "" {
		in.VersionId = aws.String(o.VersionID)
	} else if o.ETag != "" {
		in.IfMatch = aws.String(quote(o.ETag))
	}
}

// Exists reports whether bucket/key is there. The caller needs s3:ListBucket
// for a missing key to read as missing (S3 answers 403 otherwise).
func (c Client) Exists(ctx context.Context, bucket, key string) (bool, error) {
	_, err := c.API.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if errors.Is(mapErr(err), ErrMissing) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("head object: %w", err)
	}
	return true, nil
}

// Put writes body to bucket/key.
func (c Client) Put(ctx context.Context, bucket, key, contentType string, body []byte) error {
	_, err := c.API.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body),
		ContentType: aws.String(contentType), ContentLength: aws.Int64(int64(len(body))),
	})
	if err != nil {
		return fmt.Errorf("put object: %w", err)
	}
	return nil
}

// errPastEnd is a ranged read that starts at or past the end.
var errPastEnd = errors.New("s3source: range starts past the end")

// mapErr turns the S3 answers this package acts on into its sentinels,
// keeping the SDK error for the message.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var (
		noKey    *types.NoSuchKey
		notFound *types.NotFound
		api      smithy.APIError
	)
	switch {
	case errors.As(err, &noKey), errors.As(err, &notFound):
		return fmt.Errorf("%w: %w", ErrMissing, err)
	case errors.As(err, &api):
		switch api.ErrorCode() {
		case "NoSuchVersion":
			return fmt.Errorf("%w: %w", ErrMissing, err)
		case "PreconditionFailed":
			return fmt.Errorf("%w: %w", ErrChanged, err)
		case "InvalidRange":
			return fmt.Errorf("%w: %w", errPastEnd, err)
		}
	}
	return err
}

// quote puts an ETag in the quotes HTTP wants; S3 event notifications carry
// it bare.
func quote(etag string) string {
	if strings.HasPrefix(etag, `"`) {
		return etag
	}
	return `"` + etag + `"`
}
