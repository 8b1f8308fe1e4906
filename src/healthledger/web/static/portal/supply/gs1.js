// GS1 identifiers as the browser reads them from a pack: a port of the node's
// domains/supply/gs1.py and of the parts of biip it uses, so a scan the node accepts
// is one this page accepts, with the same product identifier and the same refusals.
// Pure functions over strings: no DOM, no clock (the caller gives the reference year).
// Section numbers refer to the GS1 General Specifications (GenSpecs) and the GS1
// Digital Link URI Syntax standard; the AI patterns are biip's (gs1-table.js).
import { AIS, DIGITAL_LINK } from "./gs1-table.js";

export const GTIN_LENGTHS = [8, 12, 13, 14];
export const MAX_SERIAL_LENGTH = 20; // AI (21) format X..20, GenSpecs §3.4.9
export const MAX_LOT_LENGTH = 20; // AI (10) format X..20, GenSpecs §3.4.1
export const MAX_AI_DATA_LENGTH = 90; // the longest AI data field, e.g. AI (91) X..90
export const GROUP_SEPARATOR = "\x1d"; // what scanners send for FNC1 between variable fields
// GS1 AI encodable character set 82, GenSpecs §7.11 (Figure 7.11-1).
export const CSET82 = new Set(
  "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!\"%&'()*+,-./:;<=>?_",
);
// The four AIs of the DSCSA product identifier / EU FMD unique identifier.
export const PRODUCT_IDENTIFIER_AIS = { "01": "GTIN", "21": "serial", "10": "lot", "17": "expiry" };

// ISO/IEC 15424 symbology identifier: "]", a symbology letter, one modifier character.
const SYMBOLOGY_IDENTIFIER = /^\][A-Za-z][0-9A-Za-z]/;
const HRI = /^(?:\([0-9]{2,4}\)[^(]*)+$/;
const HRI_ELEMENT = /\(([0-9]{2,4})\)([^(]*)/g;
// Python's str.strip() removes what str.isspace() calls space, which includes the
// ASCII separators \x1c-\x1f: a GS before or after a message is dropped, as on the node.
const PY_SPACE = "\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";
const PY_STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");
const URI = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)(?:\?([^#]*))?(?:#.*)?$/s;
const AI_TABLE = new Map(AIS.map(([ai, pattern, separatorRequired, title]) => [ai, { ai, pattern, separatorRequired, title }]));

// A refused scan or field: the node's code for it, and a message in the node's words.
export class ScanError extends Error {
  constructor(message) {
    super(message);
    this.name = "ScanError";
    this.code = "invalid_field";
  }
}

// biip's own refusals, which the node wraps as "scan '...': <message>".
class ParseError extends Error {}

function pyStrip(text) {
  return text.replace(PY_STRIP, "");
}

// Python's repr() of a string, so messages read as the node's do.
export function pyRepr(text) {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  let out = quote;
  for (const char of text) {
    const code = char.codePointAt(0);
    if (char === "\\") out += "\\\\";
    else if (char === quote) out += "\\" + quote;
    else if (char === "\t") out += "\\t";
    else if (char === "\n") out += "\\n";
    else if (char === "\r") out += "\\r";
    else if (code < 0x20 || (code >= 0x7f && code <= 0xa0) || code === 0xad) out += "\\x" + code.toString(16).padStart(2, "0");
    else out += char;
  }
  return out + quote;
}

function invalid(message) {
  return new ScanError(message);
}

function requireDigits(field, value) {
  // Only ASCII 0-9: no GS1 key contains another digit.
  if (!/^[0-9]+$/.test(value)) throw invalid(`${field} ${pyRepr(value)}: expected digits 0-9 only`);
}

// The GS1 mod-10 check digit of a key body, which catches any single mistyped digit.
export function gtinCheckDigit(body) {
  requireDigits("check digit body", body);
  // GenSpecs §7.9.1: weights 3, 1, 3, 1, ... starting from the rightmost digit of the body.
  let total = 0;
  [...body].reverse().forEach((digit, i) => { total += Number(digit) * (i % 2 === 0 ? 3 : 1); });
  return (10 - (total % 10)) % 10;
}

function validateKey(field, value, lengths) {
  if (!lengths.includes(value.length)) {
    throw invalid(`${field} ${pyRepr(value)}: expected ${lengths.join(" or ")} digits, got ${value.length}`);
  }
  requireDigits(field, value);
  const expected = gtinCheckDigit(value.slice(0, -1));
  if (Number(value.at(-1)) !== expected) {
    throw invalid(`${field} ${value}: check digit should be ${expected}, not ${value.at(-1)}`);
  }
}

// Check a GTIN-8/12/13/14 and return its GTIN-14 form, so one product has one key.
export function validateGtin(value) {
  validateKey("GTIN", value, GTIN_LENGTHS);
  // GenSpecs §3.3.2: shorter GTINs are right-justified in the 14-digit field of AI (01).
  return value.padStart(14, "0");
}

function validateCset82(field, value, maxLength) {
  const length = [...value].length;
  if (length < 1 || length > maxLength) {
    throw invalid(`${field} ${pyRepr(value)}: expected 1 to ${maxLength} characters, got ${length}`);
  }
  const bad = [...value].find((char) => !CSET82.has(char));
  if (bad !== undefined) throw invalid(`${field} ${pyRepr(value)}: character ${pyRepr(bad)} is not in GS1 character set 82`);
  return value;
}

export function validateSerial(value) {
  return validateCset82("serial", value, MAX_SERIAL_LENGTH);
}

export function validateLot(value) {
  return validateCset82("lot", value, MAX_LOT_LENGTH);
}

function yearInWindow(yy, referenceYear) {
  // GenSpecs §7.12: a two-digit year lies within 49 years before to 50 years after
  // the reference year (a difference of 51..99 is last century, -99..-50 next).
  const difference = yy - (referenceYear % 100);
  const year = referenceYear - (referenceYear % 100) + yy;
  if (difference >= 51) return year - 100;
  if (difference <= -50) return year + 100;
  return year;
}

function daysIn(year, month) {
  return new Date(Date.UTC(year, month, 0)).getUTCDate(); // day 0 of the next month
}

const two = (n) => String(n).padStart(2, "0");

// Read an AI (17) YYMMDD expiry as an ISO date; the caller supplies the year, not the clock.
export function parseExpiry(value, referenceYear) {
  if (value.length !== 6) throw invalid(`expiry ${pyRepr(value)}: expected YYMMDD, 6 digits, got ${value.length}`);
  requireDigits("expiry", value);
  if (!(referenceYear >= 50 && referenceYear <= 9949)) {
    throw invalid(`expiry reference year ${referenceYear}: expected 50 to 9949`);
  }
  const year = yearInWindow(Number(value.slice(0, 2)), referenceYear);
  const month = Number(value.slice(2, 4));
  let day = Number(value.slice(4));
  if (month < 1 || month > 12) throw invalid(`expiry ${value}: month ${two(month)} is not 01 to 12`);
  const lastDay = daysIn(year, month);
  // GenSpecs §3.4.7: DD 00 means the last day of the month, leap years included.
  if (day === 0) day = lastDay;
  if (day > lastDay) throw invalid(`expiry ${value}: ${year}-${two(month)} has no day ${two(day)}`);
  return `${String(year).padStart(4, "0")}-${two(month)}-${two(day)}`;
}

// --- element strings (biip's GS1Message.parse, GS1ElementString.extract/parse) ---------

function applicationIdentifier(value) {
  // biip takes the first AI of its table that the text starts with.
  for (const entry of AI_TABLE.values()) if (value.startsWith(entry.ai)) return entry;
  throw new ParseError(`Failed to get GS1 Application Identifier from ${pyRepr(value)}.`);
}

function elementString(value, fullMatch) {
  const ai = applicationIdentifier(value);
  let text = value;
  let pattern;
  if (fullMatch) {
    pattern = new RegExp(ai.pattern);
  } else {
    text = text.split(GROUP_SEPARATOR, 1)[0];
    pattern = new RegExp(ai.pattern.replace(/\$$/, ""));
  }
  const found = pattern.exec(text);
  if (!found) throw new ParseError(`Failed to match ${pyRepr(text)} with GS1 AI (${ai.ai}) pattern '${ai.pattern}'.`);
  return { ai: ai.ai, value: found.slice(1).filter((group) => group !== undefined).join("") };
}

function parseMessage(value) {
  const elements = [];
  let rest = pyStrip(value);
  while (rest) {
    const element = elementString(rest, false);
    elements.push(element);
    rest = rest.slice(element.ai.length + element.value.length);
    while (rest.startsWith(GROUP_SEPARATOR)) rest = rest.slice(1);
  }
  return elements;
}

function hriToElementString(hri) {
  // A "(" inside a value cannot be told from the next AI in parentheses, so serials and
  // lots containing "(" only survive the FNC1 and Digital Link forms.
  if (!HRI.test(hri)) throw invalid(`scan ${pyRepr(hri)}: expected (AI)value(AI)value...`);
  const elements = [...hri.matchAll(HRI_ELEMENT)].map(([, ai, value]) => [ai, pyStrip(value)]);
  for (const [ai, value] of elements) validateCset82(`AI (${ai}) value`, value, MAX_AI_DATA_LENGTH);
  return elements.map(([ai, value]) => ai + value).join(GROUP_SEPARATOR);
}

// --- GS1 Digital Link (biip's GS1DigitalLinkURI.parse) ---------------------------------

// urllib.parse.unquote: each run of %XX is UTF-8 (bad bytes become U+FFFD); a "%" that
// starts no escape stays as it is.
function unquote(text, plus = false) {
  const spaced = plus ? text.replaceAll("+", " ") : text;
  return spaced.replace(/(?:%[0-9A-Fa-f]{2})+/g, (run) =>
    new TextDecoder().decode(Uint8Array.from(run.slice(1).split("%"), (hex) => parseInt(hex, 16))));
}

function queryPairs(query) {
  // urllib.parse.parse_qs: "&"-separated, blank values dropped, the last value of a key kept.
  const values = new Map();
  for (const field of (query ?? "").split("&")) {
    const at = field.indexOf("=");
    if (at < 0) continue;
    const value = unquote(field.slice(at + 1), true);
    if (value === "") continue;
    values.set(unquote(field.slice(0, at), true), value);
  }
  return [...values.entries()];
}

function parseDigitalLink(value) {
  const uri = URI.exec(value);
  const path = uri ? uri[3] : "";
  let parts = path.split("/");
  // Any path prefix before the primary key is the resolver's own.
  while (parts.length && !(parts[0] in DIGITAL_LINK)) parts.shift();
  if (!parts.length) throw new ParseError(`Expected a primary identifier in the path, got '${path}'.`);
  if (parts.length % 2 !== 0) throw new ParseError(`Expected even number of path segments, got ${pyRepr("/" + parts.join("/"))}.`);
  // Percent-decoded after the split on "/", so an encoded "/" (%2F) is part of a value.
  parts = parts.map((part) => unquote(part));
  const [key, raw] = parts;
  const primary = DIGITAL_LINK[key];
  const elements = [elementString(key + (primary.zfill ? raw.padStart(primary.zfill, "0") : raw), true)];
  const expected = [...primary.qualifiers];
  for (let i = 2; i < parts.length; i += 2) {
    const qualifier = parts[i];
    if (!expected.length) throw new ParseError(`Did not expect a qualifier, got ${pyRepr(qualifier)}.`);
    const names = expected.join(", ");
    // Qualifiers come in their fixed order, each at most once: those skipped are spent.
    let matched = false;
    while (expected.length && !matched) matched = expected.shift() === qualifier;
    if (!matched) throw new ParseError(`Expected one of (${names}) as qualifier, got ${pyRepr(qualifier)}.`);
    elements.push(elementString(qualifier + parts[i + 1], true));
  }
  for (const [ai, text] of queryPairs(uri ? uri[4] : "")) {
    if (AI_TABLE.has(ai)) elements.push(elementString(ai + text, true)); // other parameters are ignored
  }
  return elements;
}

// --- a scan ------------------------------------------------------------------------------

// The element strings of a scan: [{ai, value}], whatever form it came in.
export function elementStrings(data) {
  let text = pyStrip(data);
  if (SYMBOLOGY_IDENTIFIER.test(text)) text = text.slice(3);
  try {
    if (/^https?:\/\//i.test(text)) return parseDigitalLink(text);
    if (text.startsWith("(")) text = hriToElementString(text);
    return parseMessage(text);
  } catch (error) {
    if (error instanceof ParseError) throw invalid(`scan ${pyRepr(data)}: ${error.message}`);
    throw error;
  }
}

function scanFields(data) {
  const fields = new Map();
  for (const { ai, value } of elementStrings(data)) {
    // GenSpecs allows an AI to repeat in one message only with the same value.
    if (!fields.has(ai)) fields.set(ai, value);
    else if (fields.get(ai) !== value) {
      throw invalid(`scan ${pyRepr(data)}: AI (${ai}) given twice, ${pyRepr(fields.get(ai))} and ${pyRepr(value)}`);
    }
  }
  return fields;
}

// Read a 2D barcode scan (element string, FNC1 data or Digital Link) into a checked
// product identifier {gtin, serial, lot, expiry}; a ScanError says what is wrong.
export function parseScan(data, referenceYear) {
  const fields = scanFields(data);
  const missing = Object.entries(PRODUCT_IDENTIFIER_AIS).filter(([ai]) => !fields.has(ai)).map(([ai, name]) => `${name} (${ai})`);
  if (missing.length) throw invalid(`scan ${pyRepr(data)}: missing ${missing.join(", ")}`);
  // The parser checked syntax only; the ledger's own rules decide what is valid.
  return {
    gtin: validateGtin(fields.get("01")),
    serial: validateSerial(fields.get("21")),
    lot: validateLot(fields.get("10")),
    expiry: parseExpiry(fields.get("17"), referenceYear),
  };
}

// What people paste for the invisible FNC1 separator (a scanner app's "␝", "{GS}", or the
// escape "\x1d" typed out) made the real one. None of these is GS1 character set 82, so
// no serial or lot can contain one.
export function separatorsTyped(text) {
  return text.replace(/\u241d|\{GS\}|\[GS\]|\\x1[dD]|\\u001[dD]|\^\]/g, GROUP_SEPARATOR);
}

// The element string printed under the code, as the node writes it (gs1.py element_string).
export function elementStringOf(product) {
  const yymmdd = product.expiry.slice(2, 4) + product.expiry.slice(5, 7) + product.expiry.slice(8, 10);
  return `(01)${product.gtin}(21)${product.serial}(10)${product.lot}(17)${yymmdd}`;
}
