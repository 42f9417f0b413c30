// Imports a host function shoal does not provide.
__attribute__((import_module("env"), import_name("launch_missiles"))) int launch_missiles(int);

int main(void) { return launch_missiles(1); }
