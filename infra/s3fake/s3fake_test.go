package s3fake_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"gridcode/infra/s3fake"
)

// client is the SDK's S3 client as config.LoadDefaultConfig makes it
// (checksums when supported), pointed at srv.
func client(srv *httptest.Server) *s3.Client {
	return s3.New(s3.Options{
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenSupported,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenSupported,
		Region:                     "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("test", "test", ""),
		HTTPClient:  srv.Client(),
	})
}

// The real SDK client puts and reads objects. Over plain HTTP it sends the
// CRC32 as a header; over TLS as an aws-chunked trailer: both must arrive
// whole and with the checksum the fake verified.
func TestPutAndGet(t *testing.T) {
	t.Parallel()
	body := bytes.Repeat([]byte("姓名,证件号码\r\n张三,11010519491231002X\r\n"), 5000) // past one aws-chunked chunk
	for _, c := range []struct {
		name    string
		srv     func(http.Handler) *httptest.Server
		chunked bool
	}{
		{"http", httptest.NewServer, false},
		{"tls, aws-chunked", httptest.NewTLSServer, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			fake := s3fake.New("bucket")
			srv := c.srv(fake)
			t.Cleanup(srv.Close)
			api := client(srv)
			ctx := context.Background()
			put, err := api.PutObject(ctx, &s3.PutObjectInput{
				Bucket: aws.String("bucket"), Key: aws.String("registry/蓬江 人口.csv"),
				Body: bytes.NewReader(body), ContentType: aws.String("text/csv"),
			})
			if err != nil {
				t.Fatal(err)
			}
			if reqs := fake.Requests(); len(reqs) != 1 || strings.Contains(reqs[0].ContentEncoding, "aws-chunked") != c.chunked {
				t.Errorf("PUT requests %+v; want one, aws-chunked: %v", reqs, c.chunked)
			}
			stored, ok := fake.Object("bucket", "registry/蓬江 人口.csv")
			if !ok || !bytes.Equal(stored, body) {
				t.Fatalf("stored %d bytes (found %v), want the %d sent", len(stored), ok, len(body))
			}
			head, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("bucket"), Key: aws.String("registry/蓬江 人口.csv")})
			if err != nil {
				t.Fatal(err)
			}
			if aws.ToInt64(head.ContentLength) != int64(len(body)) || aws.ToString(head.ETag) != aws.ToString(put.ETag) {
				t.Errorf("head: length %d etag %s; want %d and the PUT's %s", aws.ToInt64(head.ContentLength), aws.ToString(head.ETag), len(body), aws.ToString(put.ETag))
			}
		})
	}
}

func TestGet(t *testing.T) {
	t.Parallel()
	fake := s3fake.New("bucket")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	api := client(srv)
	etag, err := fake.Put("bucket", "k.csv", []byte("0123456789"))
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, rng, ifMatch string
		want               string
		code               string // the error code, if the read fails
	}{
		{name: "whole", want: "0123456789"},
		{name: "from an offset", rng: "bytes=4-", want: "456789"},
		{name: "a window", rng: "bytes=2-4", want: "234"},
		{name: "past the end clamped", rng: "bytes=8-20", want: "89"},
		{name: "the last bytes", rng: "bytes=-3", want: "789"},
		{name: "at the end", rng: "bytes=10-", code: "InvalidRange"},
		{name: "matching etag", rng: "bytes=9-", ifMatch: `"` + etag + `"`, want: "9"},
		{name: "unquoted etag", ifMatch: etag, want: "0123456789"},
		{name: "another etag", ifMatch: `"0000"`, code: "PreconditionFailed"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			in := &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("k.csv")}
			if c.rng != "" {
				in.Range = aws.String(c.rng)
			}
			if c.ifMatch != "" {
				in.IfMatch = aws.String(c.ifMatch)
			}
			out, err := api.GetObject(context.Background(), in)
			if c.code != "" {
				var ae smithy.APIError
				if !errors.As(err, &ae) || ae.ErrorCode() != c.code {
					t.Fatalf("err %v, want %s", err, c.code)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer out.Body.Close()
			got, err := io.ReadAll(out.Body)
			if err != nil || string(got) != c.want {
				t.Errorf("read %q (err %v), want %q", got, err, c.want)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		t.Parallel()
		_, err := api.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String("bucket"), Key: aws.String("nope")})
		if nsk := (*types.NoSuchKey)(nil); !errors.As(err, &nsk) {
			t.Errorf("get of a missing key: %v, want NoSuchKey", err)
		}
		_, err = api.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("bucket"), Key: aws.String("nope")})
		if nf := (*types.NotFound)(nil); !errors.As(err, &nf) {
			t.Errorf("head of a missing key: %v, want NotFound", err)
		}
		_, err = api.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("other"), Key: aws.String("k"), Body: strings.NewReader("x")})
		if ae := smithy.APIError(nil); !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchBucket" {
			t.Errorf("put to a missing bucket: %v, want NoSuchBucket", err)
		}
	})
}

// What S3 refuses, the fake refuses: unsigned requests, bodies that do not
// match their digests.
func TestRefuses(t *testing.T) {
	t.Parallel()
	fake := s3fake.New("bucket")
	srv := httptest.NewServer(fake)
	t.Cleanup(srv.Close)
	for _, c := range []struct {
		name    string
		headers map[string]string
		status  int
	}{
		{"unsigned", nil, http.StatusForbidden},
		{"wrong sha256", map[string]string{"Authorization": "AWS4-HMAC-SHA256 x", "X-Amz-Content-Sha256": strings.Repeat("0", 64)}, http.StatusBadRequest},
		{"wrong md5", map[string]string{"Authorization": "AWS4-HMAC-SHA256 x", "Content-MD5": "AAAAAAAAAAAAAAAAAAAAAA=="}, http.StatusBadRequest},
		{"wrong crc32", map[string]string{"Authorization": "AWS4-HMAC-SHA256 x", "X-Amz-Checksum-Crc32": "AAAAAA=="}, http.StatusBadRequest},
		{"signed", map[string]string{"Authorization": "AWS4-HMAC-SHA256 x"}, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(http.MethodPut, srv.URL+"/bucket/"+c.name, strings.NewReader("body"))
			if err != nil {
				t.Fatal(err)
			}
			for k, v := range c.headers {
				req.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != c.status {
				t.Errorf("status %d, want %d", resp.StatusCode, c.status)
			}
			if _, stored := fake.Object("bucket", c.name); stored != (c.status == http.StatusOK) {
				t.Errorf("stored %v after status %d", stored, resp.StatusCode)
			}
		})
	}
}
