/* Undefines the float primitives (F_*) and the bool ones shared by every
 * expansion of ir/elementwise.def (M_NOT, M_AND, M_OR, M_XOR), so
 * ir/elementwise.h can end each expansion with one line. Included several
 * times on purpose: no include guard. Private to ir/elementwise.h. */
#undef F_K
#undef F_NEG
#undef F_ABS
#undef F_ADD
#undef F_SUB
#undef F_MUL
#undef F_DIV
#undef F_SQRT
#undef F_FLOOR
#undef F_RINT
#undef F_FMOD
#undef F_COPYSIGN
#undef F_EXP
#undef F_LOG
#undef F_LOG1P
#undef F_EXPM1
#undef F_TANH
#undef F_ERF
#undef F_SIN
#undef F_COS
#undef F_POW
#undef F_EQ
#undef F_NE
#undef F_LT
#undef F_LE
#undef F_GT
#undef F_GE
#undef F_ISNAN
#undef F_SEL
#undef M_NOT
#undef M_AND
#undef M_OR
#undef M_XOR
