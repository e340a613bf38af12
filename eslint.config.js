import js from "@eslint/js";
import tseslint from "typescript-eslint";

export default tseslint.config(
  {
    ignores: [
      "node_modules/",
      "dist/",
      "**/gen/",
      "coverage/",
      "e2e/cluster/.bin/",
      "e2e/cluster/.state/",
      "e2e/storage/.bin/",
      "e2e/storage/.state/",
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ["**/*.ts"],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/await-thenable": "error",
      "@typescript-eslint/consistent-type-imports": "error",
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
  {
    files: ["**/*.js", "**/*.mjs"],
    languageOptions: {
      globals: {
        process: "readonly",
        console: "readonly",
        Buffer: "readonly",
        URL: "readonly",
        setTimeout: "readonly",
        fetch: "readonly",
      },
    },
  },
  // Components meet only in api/ and lib/ (DESIGN.md): a component's own code never imports
  // another component, the end-to-end tests or the benchmarks. Tests may start another
  // component through its test-support/.
  ...componentBoundaries(["envd", "gateway", "operator", "node-agent"]),
  {
    files: ["api/**/*.ts", "lib/**/*.ts"],
    ignores: ["**/*.test.ts", "**/test-support/**"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              regex: "^(\\.\\./)+(envd|gateway|operator|node-agent|e2e|bench)/",
              message: "api/ and lib/ are shared by every component and import none of them.",
            },
          ],
        },
      ],
    },
  },
);

/** One block per component: its files may not import the others' folders, e2e/ or bench/. */
function componentBoundaries(components) {
  return components.map((self) => {
    const others = [...components.filter((c) => c !== self), "e2e", "bench"];
    return {
      files: [`${self}/**/*.ts`],
      ignores: ["**/*.test.ts", "**/test-support/**"],
      rules: {
        "no-restricted-imports": [
          "error",
          {
            patterns: [
              {
                regex: `^(\\.\\./)+(${others.join("|")})/`,
                message: `${self} meets other components only in api/ and lib/.`,
              },
            ],
          },
        ],
      },
    };
  });
}
