// The throw-away CA lives in loadgen/ since the proxy bench makes its certificates with it too.
export * from '../../loadgen/tls/test-certificates.js';
