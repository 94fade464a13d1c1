"""The demo region (漳州市, 350600) for trying the platform: `jiayi seed-demo`, or `jiayi demo`."""
