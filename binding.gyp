# The optional native addon (native/argon_voice_native.c), built by scripts/build-native.mjs at install.
#
# libopus is not taken from the system: we depend on the `libopus` static-library target that
# @discordjs/opus ships in its deps/binding.gyp, with the sources and per-platform config.h beside it.
# Its location is resolved at gyp time with Node's own module resolution, so hoisted
# (node_modules/@discordjs/opus next to node_modules/argon-voice) and nested layouts both work.
# gyp runs `<!(...)` commands in the directory of this file and wants dependency paths relative to it,
# hence path.relative(process.cwd(), ...). Forward slashes keep the path valid for gyp on Windows too.
{
  "variables": {
    "opus_deps_dir": "<!(node -p \"require('path').relative(process.cwd(), require('path').join(require('path').dirname(require.resolve('@discordjs/opus/package.json')), 'deps')).split(require('path').sep).join('/')\")"
  },
  "targets": [
    {
      "target_name": "argon_voice_native",
      "sources": ["native/argon_voice_native.c"],
      "dependencies": ["<(opus_deps_dir)/binding.gyp:libopus"],
      "include_dirs": ["<(opus_deps_dir)/opus/include"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-O2", "-fvisibility=hidden", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "xcode_settings": {
        "GCC_SYMBOLS_PRIVATE_EXTERN": "YES",
        "OTHER_CFLAGS": ["-O2"]
      },
      "conditions": [
        ["OS=='linux'", { "libraries": ["-lpthread"] }]
      ]
    }
  ]
}
