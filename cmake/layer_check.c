/* The program of the layer checks (CMakeLists.txt): linked with the WHOLE
 * archive of one layer and the libraries below it, so a call from that
 * layer into a higher one is an undefined reference at build time. */
int main(void) { return 0; }
