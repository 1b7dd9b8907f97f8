/** fast-check generators shared by the property-based tests. */
import fc from 'fast-check';

/** Strings biased towards the characters that break parsers and config files. */
export const nasty = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.string({ unit: fc.constantFrom('\n', '\r', '\0', '\t', ' ', ',', '/', '.', '1', '9', 'a', '-', '"', '#', '$', '\\', ':', '<', '&'), maxLength: 30 }),
  fc.constantFrom('null', 'True', '', '10.0.0.1/8', '1.2.3.4/28', '-----BEGIN CERTIFICATE----- AAAA -----END CERTIFICATE-----'),
);
