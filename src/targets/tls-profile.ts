/**
 * Mozilla Server Side TLS "intermediate" profile, guidelines v6.0 (TLS 1.2 + 1.3, ECDHE with AES-GCM
 * and ChaCha20; DHE suites dropped so no dhparam file is needed). One source for all three proxies.
 */
export const MOZILLA_GUIDELINE = 'Mozilla intermediate, guidelines v6.0 (https://ssl-config.mozilla.org/)';
export const TLS12_CIPHERS = [
  'ECDHE-ECDSA-AES128-GCM-SHA256',
  'ECDHE-RSA-AES128-GCM-SHA256',
  'ECDHE-ECDSA-AES256-GCM-SHA384',
  'ECDHE-RSA-AES256-GCM-SHA384',
  'ECDHE-ECDSA-CHACHA20-POLY1305',
  'ECDHE-RSA-CHACHA20-POLY1305',
];
export const TLS13_SUITES = ['TLS_AES_128_GCM_SHA256', 'TLS_AES_256_GCM_SHA384', 'TLS_CHACHA20_POLY1305_SHA256'];
/** Go (Caddy) names of the same TLS 1.2 suites; TLS 1.3 suites are not configurable in Go. */
export const GO_CIPHERS = [
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
];
export const HSTS = 'max-age=63072000';
