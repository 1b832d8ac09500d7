// Package dynamolocal starts AWS DynamoDB Local (a Java program) for tests.
//
// One DynamoDB Local process is started lazily per test binary, the first time
// a test calls Client or Endpoint. It listens on 127.0.0.1 on a free port and
// runs with -inMemory -sharedDb, so every client sees the same tables whatever
// its region or credentials, and nothing is written to disk. Tests sharing the
// instance should use distinct table names (e.g. derived from t.Name()).
//
// Use Main from TestMain so the Java process is stopped when the tests end:
//
//	func TestMain(m *testing.M) { dynamolocal.Main(m) }
//
// The jar is looked up in $DYNAMODB_LOCAL_DIR, else <repo root>/.cache/dynamodb-local,
// where infra/scripts/install-tools.sh puts it. If the jar or java is missing the
// test is skipped, or fails when CI=true.
package dynamolocal

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"

	"gridcode/infra/testproc"
)

// Region is the region the clients returned by Client are configured with.
// With -sharedDb DynamoDB Local ignores it.
const Region = "us-east-1"

const (
	jarName = "DynamoDBLocal.jar"
	libName = "DynamoDBLocal_lib"
	// startTimeout bounds how long we wait for the JVM to answer ListTables.
	// A cold JVM on a loaded 2-core machine can take several seconds.
	startTimeout = 60 * time.Second
	// startAttempts is how often we try again when java exits during start
	// (e.g. because another process took the free port we picked).
	startAttempts = 3
	installHint   = "run infra/scripts/install-tools.sh from the repo root"
)

var (
	once     sync.Once
	mu       sync.Mutex // guards inst after once has run (Main stops it)
	inst     *instance
	missing  string // non-empty: prerequisites are missing (skip, or fail in CI)
	startErr error
	client   *dynamodb.Client
	verbose  bool // report the start-up time (go test -v)
)

// Client returns a DynamoDB client for the DynamoDB Local instance of this
// test binary, starting it on first use. The client uses region us-east-1,
// static credentials "local"/"local" and the SDK's default retries.
//
// If the jar or java is missing, the test fails when CI=true and is skipped
// otherwise.
func Client(t testing.TB) *dynamodb.Client {
	t.Helper()
	ensure(t)
	return client
}

// Endpoint returns "http://127.0.0.1:PORT" of the instance used by Client,
// starting it on first use (e.g. to hand to a Lambda binary via its environment).
func Endpoint(t testing.TB) string {
	t.Helper()
	return ensure(t).endpoint
}

// NewClient returns a DynamoDB client for endpoint, configured like the one
// Client returns. It is for code that has an endpoint but no testing.TB.
func NewClient(endpoint string) *dynamodb.Client {
	return dynamodb.New(dynamodb.Options{
		Region:       Region,
		Credentials:  credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint: aws.String(endpoint),
	})
}

// Main runs the tests and then stops DynamoDB Local if a test started it.
// Use it as TestMain: func TestMain(m *testing.M) { dynamolocal.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	stop()
	os.Exit(code)
}

// Start starts DynamoDB Local for a program that is not a test (the
// benchmark) and returns its endpoint; Stop ends it.
func Start() (string, error) {
	once.Do(start)
	switch {
	case missing != "":
		return "", fmt.Errorf("DynamoDB Local is not available: %s; %s", missing, installHint)
	case startErr != nil:
		return "", startErr
	}
	return inst.endpoint, nil
}

// Stop stops DynamoDB Local if it runs.
func Stop() { stop() }

func ensure(t testing.TB) *instance {
	t.Helper()
	once.Do(func() {
		verbose = testing.Verbose()
		start()
	})
	if missing != "" {
		testproc.SkipOrFail(t, "dynamolocal", "DynamoDB Local", missing, installHint)
	}
	if startErr != nil {
		t.Fatalf("dynamolocal: %v", startErr)
	}
	mu.Lock()
	defer mu.Unlock()
	if inst == nil {
		t.Fatal("dynamolocal: DynamoDB Local was already stopped (Client called after Main finished m.Run?)")
	}
	return inst
}

// start runs once per test binary and sets inst, missing or startErr.
func start() {
	dir, err := jarDir()
	if err != nil {
		missing = err.Error()
		return
	}
	java, err := findJava()
	if err != nil {
		missing = err.Error()
		return
	}
	// On an *ExitedEarlyError we most likely lost a race for the port, so
	// Retry launches again (with another port).
	i, err := testproc.Retry(startAttempts, func() (*instance, error) { return launch(java, dir) })
	if err != nil {
		startErr = err
		return
	}
	inst = i
	client = NewClient(i.endpoint)
}

func jarDir() (string, error) {
	dir := os.Getenv("DYNAMODB_LOCAL_DIR")
	if dir == "" {
		root, err := testproc.RepoRoot()
		if err != nil {
			return "", fmt.Errorf("cannot locate DynamoDBLocal.jar: DYNAMODB_LOCAL_DIR is unset and %v", err)
		}
		dir = filepath.Join(root, ".cache", "dynamodb-local")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, jarName)); err != nil {
		return "", fmt.Errorf("%s not found in %s (set DYNAMODB_LOCAL_DIR or install it)", jarName, dir)
	}
	if _, err := os.Stat(filepath.Join(dir, libName)); err != nil {
		return "", fmt.Errorf("%s/ not found beside %s in %s", libName, jarName, dir)
	}
	return dir, nil
}

func findJava() (string, error) {
	if home := os.Getenv("JAVA_HOME"); home != "" {
		p := filepath.Join(home, "bin", "java")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	p, err := exec.LookPath("java")
	if err != nil {
		return "", errors.New("java is not on PATH (DynamoDB Local needs a Java 11+ runtime, e.g. apt-get install default-jre-headless)")
	}
	return p, nil
}

type instance struct {
	proc     *testproc.Process // the java process
	endpoint string
	out      *testproc.TailBuffer
}

func launch(java, dir string) (*instance, error) {
	ports, err := testproc.FreePorts(1)
	if err != nil {
		return nil, err
	}
	port := ports[0]
	endpoint := "http://127.0.0.1:" + strconv.Itoa(port)
	// -disableTelemetry: 1.24+ otherwise tries to send telemetry to AWS, which
	// this network cannot reach.
	cmd := exec.Command(java,
		"-Djava.library.path=./"+libName,
		"-jar", jarName,
		"-inMemory", "-port", strconv.Itoa(port), "-sharedDb", "-disableTelemetry")
	cmd.Dir = dir
	out := testproc.NewTailBuffer(64 << 10)
	cmd.Stdout = out
	cmd.Stderr = out
	// Own process group, and SIGKILL from the kernel if the test binary dies.
	cmd.SysProcAttr = testproc.SysProcAttr()

	began := time.Now()
	// testproc.Start waits for java on the locked thread that forked it:
	// Pdeathsig fires when that thread exits, not the process.
	proc, err := testproc.Start(cmd)
	if err != nil {
		return nil, fmt.Errorf("starting %s: %v", java, err)
	}
	i := &instance{proc: proc, endpoint: endpoint, out: out}
	if err := i.waitReady(began); err != nil {
		i.kill()
		return nil, err
	}
	if verbose {
		fmt.Fprintf(os.Stderr, "dynamolocal: DynamoDB Local ready at %s after %v\n", endpoint, time.Since(began).Round(time.Millisecond))
	}
	return i, nil
}

func (i *instance) waitReady(began time.Time) error {
	c := dynamodb.New(dynamodb.Options{
		Region:           Region,
		Credentials:      credentials.NewStaticCredentialsProvider("local", "local", ""),
		BaseEndpoint:     aws.String(i.endpoint),
		RetryMaxAttempts: 1,
	})
	deadline := began.Add(startTimeout)
	var lastErr error
	for {
		select {
		case <-i.proc.Done():
			return &testproc.ExitedEarlyError{Msg: fmt.Sprintf(
				"DynamoDB Local (%s) exited during start-up (%v) after %v; its output:\n%s",
				i.proc.Cmd, i.proc.Err(), time.Since(began).Round(time.Millisecond), i.out.String())}
		default:
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("DynamoDB Local (%s) did not answer ListTables at %s within %v (last error: %v); its output:\n%s",
				i.proc.Cmd, i.endpoint, startTimeout, lastErr, i.out.String())
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.ListTables(ctx, &dynamodb.ListTablesInput{})
		cancel()
		if err == nil {
			return nil
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
}

// kill stops the java process (and anything in its process group) and waits
// for it to exit: SIGTERM first, SIGKILL if it still runs after 5s.
func (i *instance) kill() { i.proc.Stop(5 * time.Second) }

func stop() {
	mu.Lock()
	defer mu.Unlock()
	if inst != nil {
		inst.kill()
		inst = nil
	}
}
