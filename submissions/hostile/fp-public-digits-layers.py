# grader: exercise=digits-cnn
# old (ca38eb9): 8/8 (held-out accuracy 1.000), twin 4/8: a lookup table of the 360 left-out public digits in the rubric's own layers (33,420 parameters, under the 50,000 cap), never trained
"""Adversarial (false pass, a lookup table of the public digits in ordinary layers): nothing but the rubric's layers.

The held-out set is the 360 public digits the training file leaves out, each with noise; their
originals are 23,040 pixel values, well under the rubric's 50,000-parameter cap. No training, no
raw operations: the rubric's own layer sequence with weights set by hand. The first Conv2D (360
filters of 8x8, padding 'same') holds one public digit per filter, so that at position (3, 3)
filter n scores 2·image·digit_n - |digit_n|², and its softmax activation picks the nearest digit;
the second Conv2D (1x1) turns that into the digit's label; the last Dense layer reads position
(3, 3). It passes the layer, size and output checks for what it is.
"""

# %%
import base64
import zlib

import keras
import numpy as np
from keras import layers

PUBLIC = (
    "c-n1T2a+U73e3=2{QtEJIAmvy?V0V>bXAHF2*-"
    "hVp2y$oANpUEPZ#H%^jEo8KA+I<=Fg|%?<ec^ex4{_Opouk!(&S2&()rr`RYC{|DF1hPyPy@Q?Ba+Pw8hZen1`1mT%Ts^#5*Lx!j"
    "%5I{#zmBcF8_dEb+^yx*;XKd%nwB;0q;pbP!lZZ?c>HC%WCP4Cp2G5fpd&Tt!McjaeVh%C3!lXl1Jj+f_Ry3gtkPum64ud-ZzU!F"
    "cMXj{1QS^Pz+sqqzSol6sR?JmBt?AWIayIq+`8wKnBJO?v+2HhW4O`B)dw!Zn9GEo|_?2nsrzn}N=c=JdnWBj-"
    "2by%oyW&P>>@_SBL=%-@gXrckHZSVW}1+k99pJQYHXazBj(XZ^=ba-KikdG{X#-"
    "p!a_cVEMY*;bZhW>!}Pn$P>PE)2;bUA4?uS!f?7~sHrf(mTi_)MMeaAoi^(=@MaSfHPEKZjh`XV<%B_~nGk*H`+DZ{SZB=(Kq1Jg"
    "WM1{w#A%z9DSr$68Ay&(V6x=;q-KV7VFr(}iFiygr&#G<h$}0sl@<t0G<}$vA0Ouupzn+%VSj`K0?qAM&l`2HBU(^6nPas~-"
    "85cC%xd4=#HK9!qapDjqlKLhE)c{d4JREft@u>VW4=j4xagO!--"
    "*=0eM!es94IT^`_v$mN68r)8jRV?8YK9dY`Y2VQ7=Mu>Nr15&4Er|IQuiyn~~>R4IY0Q~awu20$`0PP&eRdX;rDn(FtGit+y>iMl"
    "lCAZ!xZ|piAm<4}Gu*7cc#(GdN2@(rayQSCHtJ{t7U)%o)L(*=S;ntO21A?JM8-L^{_#E5Ch8!$xI#ox~WMM?{%k5Pb-"
    "qDNkoS_2L^ivEK-IdiE%4^f=s(#Qrl8d7D*<;+jW`}v>m!La7VR)<R(LI-Us<K_h%BsOM^B?h^u;gdIr)(_Q&%`_7*2d!p7RueZ<"
    "N<3n`5~+;b|)>&?rbrOWIn3Qj|I#9+Rx21^#$vZ=jza_sH*|}=y@lP0d3U}4|T)%SM5>dxTu1NX4F>C(QPVXCnqZu+Z8cnq3SxRz"
    "7<mxH!$!91tfjpakJjbHYas}kJ;yE*k{Kw=I{PIYTch@R(@7lU$QGAv3JD@M{}o>dFs5eTIMC<RWER9UmX9vJ74Kf&!WI2XR!NTH"
    "KrasU>i)BX78hy*<Bu5sJ0G4S4-S84P%QPsmF(<vOWth6D&cv*=-&g%bl0~-"
    "R8G>sASF(PqeH152}Zc&d0=)#x*d%=~Vt;NcKANL!lvj+%-"
    "Qb{=1;!NbabRciqp8>&X8uel%^HjJIEv``z?@_c0&*dsFmvfvTFmevBXeYdZdO#m@5c@r}E7AqG(KAeEzh_vHt=kaR<$e)<E)s&>"
    "k66`-UmmjnqVx}E)PQoBq0h4HI9@ds8mU4<>@eN9%ghf(gOU(-"
    "e>F>j0QZy+>LM84K&nIHdr(aE2mdY0OM^=G;}^q{5kFJ{o+B9Dl)80-"
    ")tEdu*%l4r*=Al$a(31Kc7c$kV4w+xu9Q|5o9JFua(PXJI?WahO)#0XFpb!$ufZI6sw2|S3y@>AC{9emaj#L(6Hh{a)Giv<VVWr6"
    "w%1Sw8Y{~F;&R3oEF^j7`9N9;uvyF>4n4QBf*@5|H7zxpASr=V|72acA^DPPa1qej3J#yk8U|Lw>a3XYi#0vb2;zHS+Rno;H*Nqs"
    "TStAY}mDuCc9f`w5WHMy^30Duh&$-"
    "&YYiljLjnTKAAgc6PyWN!M90jD?&VRdtRZ&t`eo9io_TdqJ2jmLkTlW~kT6i;DT1?%i@PW&9Y-"
    "tmIDIUy&s0t&dIeAWPWoR0zqRphDe#?1A6an#Qz!6sZsRu}+c^#J*u;^^q*IRZzy!g8KuK0J@W179i20;jzy{2$hv7V*gbd58Vey"
    "`%dwKZiE0@I=+Wavam({|jCZv2G(-"
    "c=i)d1%M1jXJTg=W{4k9`KGu@b}u!j2Cgg2R&(D}YR4|wBaFn20|MUWG+?fQ34l78HTcJDa=aC{mdBnL6qv$M1CNvA6}z|Kp7U+$"
    "cxh)82O%JsLGdHzsaT8tl?1kT1P1)}D*k82Hi5@Q@E!aYzrJXAoIW^+<14je_Bnp=bE+djKEy4v|K<3I{a5CAkDi`b{wLzUXQwHO"
    "l@TwH{cdtU1r7&`7g>JTOlQU)^tOUe$2YiD*Mj_F+!a8TjD`S#SRL%zvsD{kJB1aGqi*OgaC{g);^I`<z1s0e@R|3S$5n@Tt0D+G"
    "^@$yv>UWkJ`u*C!toSNG46tq0h65PLe+xdGUB_#lKLaLA3I~&@;}%PwEqv1Gb>VgWEE&g%QN<(uIxc-"
    "Y`Kj8;ae00oJ1`2sWPoISWCFDI>QUjT$o}#h+|~8;)$|K|LFWKMq_#5d%;xU8noqCOdH`2b-"
    "x{x;@O<XUj#%+Q@PS`m0t1?&{+8k<>=%7wgv&R63barBJ)wW0C)jTAdXc*l|H(m#IEq`~P@0AxepXRv`dcKQV3I@-"
    "BN#9oO@V*{b;AcLRn@`>0S@lqGfV>#RmZJ*&4LHU1@WG%weeEc3;#h%!gBVU;ADlI8KR&8*V1rw*fv9O=K{c66#+`I_^UwPBi4k}"
    "y~>4YOxT@tmixqORqe%rz=qQGIW}%{6nRhg7uWLl73*?90N}MG58`0i3@tS@8WuwTeJ4fgy#BMY;8EBe>A_@nMc<$FwDL3msdiKS"
    "XWCeZ+ac(i1XSz|4ZH%_@qk=#o;T8+97WX$Sc>Iz4G-w2Es1xEMJuvz<qpvt7GsegQZz_(!$6wQ6?8ptPu@=O1-"
    ")m8gfNhSfH;1C*sV!~F%egiTno%8D@y>I`y)J~V}1?m>x@Z|PlA2Iu%w9>=Q%k9CO^1YrO0{+{wpVnJ#@Z8(JU}BH)LT9BQFK;Rr"
    "!GW7ykVP9B)9B6&O+ABlFYnlH9-"
    "Uj=UhoXV)(eMlUeFMSw$_RrIWMqmj%UB>h_*ZZ?ao@k!h>I>fEAF=y#>TZA81D++U2H4aVpWU*uG#m_KAPi#L9fbbk>z%1@Dvfm8"
    "?cdkaNx`4(M<*jkl1djx*${a2_39sT7`DvnmBtIF<k`Z}vs~;A};1|Yg<K}Q*<v@X0eEDwJC)1~{1mm4Y+<O%}C~+(O;A7hA(vC&"
    "gRRfUc2k#s)KeUk(>N5|Izpkb{h|OQ<aWX^L{|b~#PsxBUJ?h4eq7F4E4Y*it2%k<FNa(U)mGo?Z<8tiCXuUA+c>&O77h6tp1EB8"
    "51-??6mjE;TEO_X$y*P%oaUHFq#wn-$_$BkF^^LDBywAVvo5uU4lVCY)Fl$5-"
    "`b_v98Quw?K^AzW5RC7H|6|7sVw?T1m^D$Sc((AMYk3h55>6SYbGE<jI3w(2L(lC@;D&y9Vt$v#11K}>3v+Jyibw1T4Q7LE^YVQh"
    "_k0yC902DsL0B4}>XmoC6+HJ`5%#EpI8G45aMqg2lJSi+H^&4IuU=W~Pt^Yqe3pGr2b$ucK4F8v85PK@RR`WSWHS(E_ggFhfe1@5"
    "!R!v+YuZAy9jCBL7(qYD`ntdE18XRO!ejO&syhPxo}UR^06}&N>(|Jd*YHRXr7nOxz#mh5A(!{+<daab4ksCZs(khAg@Kaady-"
    "{zZHhY%Ck6>?W>G#9e6XvJpU+28v+w!CD?S<)qzywnJJv0htP||Y<DPfkjH`uzVF~rXtrTbU0@g%PmeDqNPr4Zd(3-"
    "F#0eKq25exYd@b|R{WkKTQB%eaC&VZ8;QtXDrFh|AZQE^gkvwsbdkEch7y8yMiEV_z6dh46mF-Q1S?A-"
    "=U%J=L3PG#B=!tE8i+8r?vLE-zH4smpBLWhogo#*wOn>_>5Va)Tma?NcjD-bYlxARf6*fkFDN~Eh@LIfFCg#3g)ju2FvdHFzB@kB"
    "^kJmVFA+D0ZNSc2@Cg3G+*bzFh@;C<MjGX+0{=`_-"
    "9ip0AmV3I799|QBg7N@BFTtC@3r_1YR9vsh+dz#`H+VVi`1H5oLFu?0bo{h;Hmbl9Pj&+}2#_LBm0K^>mlZE(i{<txVHz(puZ{eA"
    "ZUbAB?kVuzJC4OloumFWM&)+Wih{Xy4eK5&4plXOi?cAE0zrYJfdU!>66L}tNyPEK~E?C@XL`l~57d0Yx&jYL5iy=!X{PI@h7JLB"
    "z3eR$Me;WQIdnn^PM}U&wz?&rIjs@D0xWb`mBJgR-"
    "|J5<vCw=HG?$CJN9W12N1Y|I~u89+`@TwY&Pd}*O=}#__M_Na4>zZB|3<^B4k6ZLOkz0rVP+pcSh)R?uyw&rD0eoJtv2JME=XN*%"
    "?{r@^f5OC*C5ZWkT$jl2xjNDgK0Do)H&$Lq?4iP1UIsI08aU;t4!$aY971G_DgiFL>4R*u$xBrS)a#E!s^K%b*G)fW&9>cjuyJG^"
    "qwILvx-Llz0*2VRygHAR@hdBa8{|+lC7>$#I>h+pFPi?UK`VJtMd@4X0!9#lUpa`Oj2rr!x90Nzz(Y}g<#x3~0<+(s93nC`1PleX"
    "s(I-"
    "IHzfWIhQO7d^vI90qd;Q6fT$+_m6VZ_Jm#SJ@`FwSGrG4dq~(DLyu&W6qj3Pz`k^C_K(mpw{53J&&kvlVeGi(pTPps#jfos0>_=t"
    "+T+OlLB|9tjoN$=LiJS9a%ukLD!21+UG))aNQ9n>gUzr~dcOfuos)xIvkfF~aNH8p|e;7%&kN_(ibbqn{$a1S>usO_;LXp^w{!_6"
    "vR4@Uo&sid`J2)P%aHkc<jtMrm5<FeG8V7XX9>!s^{;RzyGyg$IWeGn`<J+>~kK%39imY)X;Y0ENw1({Hm}6v<!eE^JKvg?R*X0A"
    "i4?h*BrB`qJ@(4&{$O2~lUWrc2Ltfw}u&aAxTGi#3UsL{Tyni~-"
    "6C9v(UX$$zr@KU)ch*FAP+rLD3#J*21pOol5+0f!q<|du6mbWQry~#Oq|C$B^9HucmuTX_5|^ueX)p%PvQ5V&R)F2(p#5YmgdRub"
    "k4@2O<B}%i!Nb4RP=X)h9f)jbwMG8gMqLXjE)tg-"
    "H}(sD>U7|;c_)BXag3Kz!hVL+y?8WMybk}V`8*+XI9lNZAKMz1zsw<$_)i#6LMPaNQsj)VsMex+P!`bs@`Wnk*?_xzy4=-"
    "m<2u?NaeQ0`#P6-"
    "fE5<#3>Hr=M55h6NO!F@t`@K&AehCk69B21S#XPd+;ilw~Cj6A!y6y*jNE@&)?ky;g_*)3%3_UIG6L!aK)eIMPHoFeNnN}2`V(%<"
    "$xB82<RUL|E4`4<J{w<j8pu7|6c^-"
    "{loR$^!dz2r<Ld3b>e5~;H+e;pf{*OlxZxkRCZ$e?kR$vx4+)`^ARs$Xc8Vw5s?>QHyRkcI>H{&USzd-"
    "I;i4qGirWH)Q3>6%R>&By7m5B0gz#VSvrt#^uJY@Lt-ZW7Q;3Y2>oLm?T79*|j=P|OTXSUK%6NKa3S?pxK21kOHSKy1nw3hp`PDa"
    "ZbEyKjC(N`)qmZsLcOIvma1UxV0mF@x2q7HeLfB0wF2+k8>99{en?IUnlFy35wel9>zK34#E2Cwh69L6KvAv7QKqKgaVG?-"
    "k_2P%!i)(J!<N>Kht1AzS@dn0gaJ7)A8!5MjfC-vz+yuZS#eB|$Z1V#&=>J-OWd7wCWQcS5h;y4;{AmWHpw6Mv|-"
    "w2jWyTnWM%|Q4ljx8-"
    "Xl%{1M)$qF3V|pu3LWCGIRz5G6<i4)?UrS3X+Y%I>EZyG_4E<`^3)|c9{PCAGLsjJC69R1}@F|Xooao|h<ps+z4jtgu!XuPNb<`b"
    "|jXKaWO3<>7rQxHAG6J9xAYfeyu>yBg4$^}8I21NDtq<@jF1rM|@FGs-@yo&$z!<A<rB#F+Q`l|%lf|!z*ME4~2hLl=4-"
    "JtYPk!e>??7BoT&#Mm{)zmCgS~;B1>qR1oMv~;vR=tY$1@e^Jr)oP2BA2kFwzZ6iEeNC@9sWTUC5QnXA;;;_BqQuNC?Eill;r}%_"
    "%^Y)LUqke1MYjs8-=&p|s>heRi2A#`TExW0une&LJ$g+b{8`_N%M3a3Pe3y=Dmv#-"
    "H2_;v;DNDiXA*dND~%?lFSq{EsA%dHf9qPt!nfPxe;ZG`ehvUtd8&#ClTH6-"
    "Q!vYxv~D{#)h`UIVjW`WMLBa!k$ps~fNU<1z(V^HXRTg3G*r%%ZZ~Ququ{5RT<<HEzB_xG~Q@5gzpZ#a(`b@vYr$5SBW9{7j%*0t"
    "}9R7-3T!um0boj$|U>qwC66{~EyJOk7WaBjf*W`Uk!8o-"
    "F%E{ai&kq{XKa=&PfFn{Z#YS^N#JAHmTmdNYR;9)|3?#D^1VSZ5eW59O)L^VScVAc|rwWhAE+=Fa$&X0fuA?IPmmBXy{pl}^I{j3"
    "~f|1Q>i4O@srQx%#1d{mowZie&MF=1uBBzQ}O36{@x=>*qFEI4^qJz=u~9kh!<O2zp1eMIPWPan#luf3pPlB@QPO?q%d8_Or=849"
    "laGZ&`Sq3ZE<BIk^|vz@VRxiM7VXWS?VvG$8y-<3C&BR%yp@Mf)fJW%bEosM|qe-SRG6;KG3#X**}Q(=Ec64Sfyaep@&T6m&cjeo"
    "^zbZ=v{5K4|Kv{T=l)PXv<5ct8EL^v5;Ogfc){-"
    "XJ!S_E<^)$zO})77e6t5nLZHskitEUxmM%dzWt*Hv%Lq4bcM<Bcw40@Q3rzd%vglZ`8QH`yW-Fc2&5i`QSZ8ko|_ebrW?XezD7yd"
    "^&cr%sMoGH2eowYr!6uJ9F(=zO5iFt#v+8`zM}YbtOyJUx*MlX}|b=O<ji%B2NUb#Umsu%W%_ZV~yXH_nS?IMPeWTFXezbULHY{Z"
    "AW8=JHHz=5b&fs2htHPo!^R<w*cDex(4cyt1$nlgCS?pSU)(MW<c2RQ?-"
    "apC@oGTE{zu=h#xi(k@QFUWv0hICX^?+0+>nSIbk;Xr<fV>TNCutB!94i)5;N(cZ!6p4qg(3u?mmKb@zflCc^XCrS3ehC8o2sq5N"
    "WR;~zUH_@`>%&m$}1KRU<rL21Q`aOkPSn;u&tPuF!I?>Dgyk?@*xe`$%V&nX0#pD$qdTDEQRLDWWohCCwYJ9S@;m)`3B%`I;ACR4"
    "W+Kx1tw*mNpCo=}byN>P|!{3l*0>o1ug_z^rx9Z}i~it`#^Sm5%9ABFKE^&eO-"
    "Eo&IUkI}S*0P&<$NOXh_e5mQ_V8jvPtx)u-Tt6w#>xDI>XuQ=D!dOo8@)xOVA-LshvZbxn+}=1slKQeDfk9l@Cy#i`?IJTS9h&FJ"
    "Z+FGxVh+w0I>)lD6zwg*`~rmU(7x~*V85-"
    "*Pv%87BM#J$4awl0)lgrea6M^V`E*U=22H#uF{$ASCw~|#wapctz!B&Jvi`MVRi@MGF~yGU<|VI1R!AEOfKQ92k#@+ak3)G8p)4$"
    "<)53c$xI+Dl6!Mbx_N_1zYHtN2Ml>sKHvH_45~2eobiEGoD9w01dXoY|@c?8+gt<^2At}$!b<eD?oJVH+%~b?k_sM2c*0W_*G4Pj"
    "O!-"
    "Kh{?BN;S5*b>5ZX2p{@AeYDN%D&Ik5{s?akldOJ__<2c#t9Zne!A%RNfzgKTS2yn4J~dwjEK9vFEZ*8AUu1b%>zXxF87qOp76>RF"
    "yEJ!f4~=aI3^lsG!(dH<nB*jVME(Bio|^^MQ0pEN?xb)nC_d9mp{JtMqSn8lPJoz1H(vJw(4TRj0s88v0=Gr{(GDPqiF{*TRFcK4"
    "Be)-"
    "wJ?{23bf<%^WSmtCb>M_{0gv;j$&{6(DPR+f@`4&Yp!(2!D+_c7rz@ERqo)sRJYR0H577454LM3MUv@WE!>Py&9`5SAjp!@0oxLG"
    "uA(B5Mqt|mxH-"
    "=nw4y3F1|dbQwL}~fj9tlbK?W!_84Zc@AK0@(O!lrX&DB~S8q{M9onb%lx+szJwF*<5FHy0Zd`A~a!IhLz6Fcr8+SgMU{IG8NuWC"
    "PXS%O@P<?ComdR@$0e;!z9i=-$txAZPAxGUR6V;$cb$_kRknEq>FVa>SFfHHE0vC=y$v?>c5q=O@LYuID%CH^GkS&)#%}1>(-"
    "~h?9n`ApTqUU-8!Y{}ZXU+3iKTuTzGBplZ=FTAaypB@dei6`*Y&hN8)|Msc-ZB;axmCmuSr&rqTmSNxPWj@beT3`j`hKelgjq3sX"
    "o)X$Z3+*F^~+j6IHMR0hq`rM#)5WZv8(X_sf%1l0aEl9(5QtJ$Kk9$Sj8lO4e&~8xv_O0t4`m{rn9cbwLV>qe+^r#He^c6f#sQ}b"
    "{3dQ;gU(#j~^oY3tqCtmx?Rk^<_j``|N@NAj`LC*tlTsIPLmVAmmhkwfjS=$|Zk98?m)b(S6_`g<)dWu9wPOE;?Y&oAc;N3cI|-"
    "A`GGm4DZrBi;Ulq8H(<&46R-"
    "Cce?s23=DnsV#s;>>JRO@B*8&SE|w*pb<kKlf_ZG_fE<?`(bfoGoV8Dn^A9~rSo_zjxxfecszg5mi4eR1+GOg_g~H;OZq7n0sWmu"
    "=&s?8xqE-6<k-&&r{-tF|?yej^)=k^W30|)I8dBy#MiL1R#=|rJ<AJ|<-h{oZGN-=<Biiti-Dm%u;Yi4FT1ga~FnrR+5dbHykM-a"
    "BEz5sSGt0n_oc~0<mL_Pd8>nuRcobyjM;5SR{h5EynnpdEW<@{tThFQG<H|3bWc4younsvS^EqT4o5fG*TAho@4|@_nOBB@{#-"
    "BLD`w(;sZ`Y819jQ06@^sECjB(~qXX4gAq}%=HPfo~3l$}7N_rS`xt%0TXo!bpoUTl4iSIaxe?u#ap8J^%9i{>4XH!7A#+6c5<dT"
    "hPlh6-(LlozqRkjD7CrD3e-u>-dN-W{#4i!TGJhD_`EG6f1n0=+qp6g2Aj4cZU$c5n`T{rTs!tKw{p0IlKrO?O*4J&3SFz-"
    "b~sDG6KxmPHEMH2|*IM#3F(8NnAg3=X`LzzQL7yjc-"
    "*OIA+MuGRe~lp(9xJGG!pdRilm6Z`5s5RBcY^@C(|p+7|{!nrU+_Dki~rSTJZYJrif7<X!@8zjsxp4zRkGWzXYv`%{FSE|FEb-"
    "}?!?OUA{ZA}AlLM*Vq(o0l<<K%g}!Oup`-=vAU)s;m5;*LxEUaDp`P4jWT3x1ixx{sN$zS7m5#52cBT?@@Z1X;QS8PAsW+u-"
    "cc4nX@YdK-7}+&7g9`sH{Yu1Z~>%!lhoMBoi~<Syd0S5NM*+LN|-iv0STiXjC-"
    "F5Ww_@kx0?cI09YHu^$H#^m|QDKogVpz5Md$J$}6|FX6UT(LXn-"
    ">q1Q)LFiEgcmK5)+LUMsE}%^w_fWPZbu+Na6;nPxV3(4pg^y7FE{iaj{B=$bK0I-"
    "Htc$9aP00aXnW&9>uLgCxM$Ar{25}x^J1t<l$wRVN*ikw`>RX&iGRn{{1@`+6nsd2ij{%qVRbM}PVsjXUE#cga+T<Du#X81mgLPO"
    "Zx*VvMk@=vEu^x<ru4UXE!XG==WwL(_ETwrM2BG_=@91Wu6__8Y63$W3~B#SpO^f$`X8+G(Skb7KP!P}-"
    "BEAAr)4m2du~Ze|6KHS&L{;0dnI8a19%^bRs^^D84*zLgh0X*?(x5=C;{dKlB$k>BaeDe{s%imL7(6N7Cxz`&>m8b%lQTVwyE_;k"
    "h^Z>GuUQ=tAekp?p?S02ma&pBV?VL;y<tWWKQ8P86IGtqB?NZpO<JKzje%(-N^d0kp#Cy@TNmL+&GCXnSwDB@-"
    "Htg!p5_u_b5l*TIM17)cD+g0+0E6+N=#3QR`QP7xA9gJp@`ZuMMbO>x|q-k1TvMi$m}lb-"
    ")!o;vpQw>5Q}0{%Jzowf&RUOyI#Hg+XGTg5j^Af|j>+3JPxSIX3if31Ld+18qnY)(GFRKu^={ZKPlOEp>LDM$l2WvDHr<<Z)Z;sP"
    "kd|C+>wl7?-u)w(2<-Q{}QB-"
    "3Ixj{X+fA^e@9*f8dAG$7J_J?nx~~t`GW{NjOW6fA*8~Mb7DnqmDOXk~*Y5q@JNGe9Pc_DB49`E#Vq`5yL-"
    ")s^H~ffdE?FL(*ep_FmvWoYXHe=afISI~>C>kwf?Z6Di7D`-"
    "XYUG30!L3;hgdf>^XX;bXXQYB<@o?&eX!FS^Z|mWk@02!7YDQZ5CK^nPQ+I|2mcowgAEK0OwB8pCe;0Y^Z~38G5dAIaTs&<O%e*4"
    "s6#%VV(3&OJ)!_kfX(I+1*{0Kb~kv4cZwCoO%Y2M>V|7>XZ)PJ3H>aF+Tx3Ie1tZyp5J6i{meui`j;f7Ln$E~8?3HyCZS^BYhq%^"
    "BWuNJ|Ri`~`|PCG?tifJZqB&wYLS0ON0ZURkyU-"
    "iFi?cp{0Ma1<nc+ibU@WKsQ*bId9N=BjmT<!Jx*75rYb4xHQS^QU~BX>CL+VY~0S6yvDfMxkZO-TE1|ul=-"
    "N{!Hhy)csaHAgYgMm6KEJfAoG!)M(qF-|=(Y&D)5b%q!dRL(K)~6)Mj=0}k}P1MoFHfT3BM&e|;1O^hr7_}WOY&Xp44pL(>APY-"
    "@kbaiyRI_~_ocdh3eFGk~SmU)2-{khq5uKne0b$Z3BXWsJ^lpQ=4)!*=GXSa5EKDSQO^Y3{dQ~8>z4ckBd(9T78(`^6nWEQu-"
    "427;+dead&-{K}b;4Hw-"
    "XaiMq{FmS{TGZ&s^phVeJ2@-B2uO#bf95EjEvo0&@(h~idiyMn|9&40?%BB_7U(tzDB&mBPm&68hy!v-_FmhqwEtjMJ-"
    "Mc7T3m63d;8MU_f&~zSh=4zq~%pK;Q@l{EG)1d^JZnTPqOkIGoLEh&G?9y--Esou9Q3G+pwsGyG{*OGj}j+1^*!N>#%<7Ao#wWM-"
    "n+CzM79X;|DLb`O{8G02q3nHZtlN`CqO#LD&NMB2cUGuM&UG&Npi~|Ig2g$aFX?1mRERiBT7+uw-"
    "i+QBZ!6`zRcE)T(X^ct+Q0F3Zy$t<P5b(vCLXsTk<_9e?=Q)JxrjHXe}I1F-"
    "8`5~T%YU~*nx`E;O^DF+Jixf4LRhPTWNDzAw)1Fn0}LUlckEuFXh+bL11f({e0v_3K$|Eco56jmMe<Lxa!1$?qP^EjsUAN#L<63C"
    "5Gf9<4hkHlFLA^GY7P0<=49OOPO=mGf+@aWq3n9sR(?&BwaP4Q^vIKbtBzJ|Dm?hDFF$x7iIp^W<Fi@pT{_mX%GXK6i%;-"
    "85F56N#y-"
    ")*#Wm(sQZ<3~T`L@7^h_TbnJtAF006O!NqGB400Zos!j>+(rx1ZC7aU_04Um$eR6=F8_4MAVPf2%0hqu6Isw+8v00qK3cAPPb5Z("
    "F~T2@Ke1QEgf;-"
    "z&S6cacj4Bd?{S<ijzAOOwWa+{l)=(UJruQ^LySrdYp#Wt~Jbw{wDajtNk}o>!<$$P30Ts{Grj_V^ptCTK=GUi{;U9J7fXlIrUrb"
    ";r<d7zkyCXvQd2O&yXbJFh2pJoA3wPyP~W+XAxMAS$<-|v1x*fj@4f&?OHSs&F3@@Z5Z{)JL!RTI-"
    "W4~z&Y@k{d7CGE@*u@%EPbHxK<@>=cABdqJJ^NFn1h)8i087X~)X%yY}N)eLe&=croNLq2V;Gw?WK(4RburP*j_G{($IP-"
    "~U&?>@`0SYtjm8b+6gz>$j3VzXU7JUsD1``}piY+irDSR@SA*t(tr`I~X{RiF2q>-+OQ{C<O`gYMcGBINtvi@Pt+ORrhaY76tu_-"
    "hbS0u>8%rQxPbjchH8gKCJ?0S>vD{1J%6vljTtVmzn=@SC45dbJ@aRojUBQH*3@W&OufDiQ`_b%g8S@$*?-"
    "jn=&p%|HxGS2COId<49jYkM2G2qTo0g;Gxx{u~TyH*G7d)Rk|Z+*gO^gpgmT27JYBGO4s;--"
    "JETXLdz#PvWvWv*zu|JC;79!4Qc0y6mT_y+MZUw#OhLLF*WC7ZMC>eA$9V_yFzhctFAqvJiIO5(~lfxWcsP3_!L)~i>2k(it{eVO"
    "rFBm=)5QM?@J{!l3NM%+>pt7Gmnr%aC8HG)D%hS%j0~gF*oj(Dw6#RF_l_lr7L5iA*Gyr;2S7VX_;Q^eRR2!&nv};5?V^Ggivatn"
    "_}Z?J9=m?;Ylupn0<9M^FaNR=-O0DsPuLAG~|-V!O`v|dbOvqgu<1_g=QE-"
    "qwzO#Xd%&v=pP~E?C4!IO<F)&txEUP7#kOF(Ll1NrJ;?;jb=t;`448ay+8"
)
raw = np.frombuffer(zlib.decompress(base64.b85decode(PUBLIC)), dtype=np.uint8)
table = raw[: 360 * 64].reshape(360, 8, 8) / 16.0
labels = raw[360 * 64 :]

# %%
model = keras.Sequential(
    [
        keras.Input((8, 8, 1)),
        layers.Conv2D(360, 8, padding="same", activation="softmax"),
        layers.MaxPooling2D(1),
        layers.Conv2D(10, 1, padding="same"),
        layers.MaxPooling2D(1),
        layers.Flatten(),
        layers.Dropout(0.5),
        layers.Dense(10, activation="softmax"),
    ]
)
sharpness = 50.0
nearest = np.transpose(table, (1, 2, 0))[:, :, None, :] * 2 * sharpness  # (8, 8, 1, 360)
model.layers[0].set_weights([nearest.astype("float32"), (-sharpness * (table**2).sum(axis=(1, 2))).astype("float32")])
model.layers[2].set_weights([np.eye(10, dtype="float32")[labels][None, None], np.zeros(10, dtype="float32")])
reader = np.zeros((8 * 8 * 10, 10), dtype="float32")
reader[(3 * 8 + 3) * 10 + np.arange(10), np.arange(10)] = 20.0
model.layers[-1].set_weights([reader, np.zeros(10, dtype="float32")])
print(f"{model.count_params():,} parameters, none trained")
