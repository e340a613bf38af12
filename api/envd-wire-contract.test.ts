/**
 * The wire contract: our proto descriptors must match, field by field, the
 * ones compiled into the installed `e2b` SDK (its `fileDesc("...")` calls).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fromBinary, isFieldSet } from "@bufbuild/protobuf";
import {
  FieldDescriptorProtoSchema,
  FileDescriptorProtoSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";

/** Decodes every embedded `fileDesc("<base64>")` in a source file, by file name. */
function embeddedDescriptors(source: string): Map<string, FileDescriptorProto> {
  const out = new Map<string, FileDescriptorProto>();
  for (const m of source.matchAll(/fileDesc\("([^"]+)"/g)) {
    const fd = fromBinary(FileDescriptorProtoSchema, Buffer.from(m[1] ?? "", "base64"));
    out.set(fd.name, fd);
  }
  return out;
}

/** A flat, comparable description of every message, field, enum and method. */
function shape(fd: FileDescriptorProto): string[] {
  const lines: string[] = [`package ${fd.package}`];
  const message = (m: DescriptorProto, prefix: string) => {
    const name = `${prefix}${m.name}`;
    lines.push(`message ${name} oneofs=[${m.oneofDecl.map((o) => o.name).join(",")}]`);
    for (const f of m.field) {
      const inOneof = isFieldSet(f, FieldDescriptorProtoSchema.field.oneofIndex);
      const oneof = inOneof ? m.oneofDecl[f.oneofIndex]?.name : "-";
      lines.push(
        `  field ${name}.${f.name} #${f.number} type=${f.type} ${f.typeName} label=${f.label} oneof=${oneof} optional=${f.proto3Optional}`,
      );
    }
    for (const e of m.enumType)
      lines.push(
        `  enum ${name}.${e.name} ${e.value.map((v) => `${v.name}=${v.number}`).join(" ")}`,
      );
    for (const n of m.nestedType) message(n, `${name}.`);
  };
  for (const m of fd.messageType) message(m, "");
  for (const e of fd.enumType)
    lines.push(`enum ${e.name} ${e.value.map((v) => `${v.name}=${v.number}`).join(" ")}`);
  for (const s of fd.service) {
    for (const m of s.method) {
      lines.push(
        `rpc ${s.name}.${m.name}(${m.clientStreaming ? "stream " : ""}${m.inputType}) → ${m.serverStreaming ? "stream " : ""}${m.outputType}`,
      );
    }
  }
  return lines;
}

const require = createRequire(import.meta.url);
const sdk = embeddedDescriptors(
  readFileSync(join(dirname(require.resolve("e2b")), "index.mjs"), "utf8"),
);
// Our generated code embeds its descriptors the same way, so both sides decode identically.
const ours = new Map([
  ...embeddedDescriptors(
    readFileSync(new URL("./gen/envd/process/process_pb.ts", import.meta.url), "utf8"),
  ),
  ...embeddedDescriptors(
    readFileSync(new URL("./gen/envd/filesystem/filesystem_pb.ts", import.meta.url), "utf8"),
  ),
]);

describe("wire contract with the e2b SDK", () => {
  test.each(["process/process.proto", "filesystem/filesystem.proto"])(
    "%s matches the SDK's descriptor field by field",
    (name) => {
      const theirs = sdk.get(name);
      const mine = ours.get(name);
      expect(theirs).toBeDefined();
      expect(mine).toBeDefined();
      expect(shape(mine as FileDescriptorProto)).toEqual(shape(theirs as FileDescriptorProto));
    },
  );

  test("the SDK bundle carries both descriptors", () => {
    expect([...sdk.keys()].sort()).toEqual(
      expect.arrayContaining(["filesystem/filesystem.proto", "process/process.proto"]),
    );
  });
});
