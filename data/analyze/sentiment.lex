# Sentiment lexicon (format: docs/analysis.md). "phrase score" with score in [-4, 4];
# phrases of up to 4 words win over single words. "+word delta": booster (delta added to the
# size of the next valence within 2 words; negative dampens). "!word": negator (flips and
# dampens a valence within 3 words, x -0.74). "~word": contrast (words before it count half,
# after it 1.5 times). Contractions are written expanded ("do not").

# --- positive words
good 1.5
great 2.4
excellent 3
amazing 3
awesome 3
fantastic 3
wonderful 3
brilliant 2.8
love 2.6
loved 2.6
loving 2.4
happy 2.2
glad 2
pleased 2
delighted 2.8
excited 2.5
exciting 2.5
interested 1.5
interesting 1.5
intrigued 1.5
helpful 2
useful 1.8
valuable 2
impressive 2.5
impressed 2.5
perfect 2.4
nice 1.5
cool 1.2
fine 0.6
easy 1.5
easier 1.5
simple 1
smooth 1.5
fast 1
faster 1.2
quick 0.8
efficient 1.5
better 1.4
best 2.4
benefit 1.5
benefits 1.5
improve 1.5
improved 1.5
improvement 1.5
success 2
successful 2
win 1.8
wins 1.8
thanks 1
thank 1
appreciate 2
appreciated 2
agree 1.2
agreed 1.2
absolutely 1.2
definitely 1
exactly 0.8
works 0.6
promising 2
compelling 2
solid 1.5
reliable 1.5
recommend 1.5
worth 1.2
fit 0.8
fits 0.8
sure 0.5
yes 0.4
yeah 0.2
okay 0.2
welcome 1
enjoy 2
enjoyed 2
fun 1.8
clear 0.8
saves 1.5
save 1.2
saving 1.2
savings 1.5
growth 1.2
growing 1
powerful 1.8
flexible 1.2
intuitive 1.8
seamless 2
affordable 1.6
reasonable 1
fair 0.8
confident 1.8
comfortable 1
keen 1.6
eager 1.6
thrilled 3
curious 0.8
support 0.5
helps 1.5
help 0.6
relief 1.5
trust 1
# --- negative words
bad -2.5
terrible -3
awful -3
horrible -3
hate -3
hated -3
annoyed -2
annoying -2.2
angry -3
mad -2.5
furious -3.5
frustrated -2.5
frustrating -2.5
frustration -2.5
upset -2.5
disappointed -2.5
disappointing -2.5
unhappy -2.5
problem -1.4
problems -1.6
issue -1
issues -1.2
concern -1
concerns -1.2
concerned -1.5
worried -2
worry -1.5
expensive -1.6
pricey -1.5
costly -1.5
overpriced -2.2
difficult -1.5
hard -1
slow -1.5
slower -1.5
broken -2
broke -1.5
fail -2
failed -2
fails -2
failing -2
failure -2.5
waste -2.2
wasted -2.2
wasting -2.2
useless -3
pointless -2.5
ridiculous -2.5
unacceptable -3
pain -1.8
painful -2.2
nightmare -3
mess -2
messy -1.8
struggle -2
struggling -2
struggled -2
confused -1.5
confusing -1.5
complicated -1.5
clunky -1.8
cumbersome -1.8
tedious -1.8
risk -1
risky -1.5
lost -1.4
lose -1.4
losing -1.5
stop -1
spam -2.5
scam -3.2
pushy -2.5
rude -3
busy -0.6
unfortunately -1.5
sorry -0.4
doubt -1.5
skeptical -1.5
sceptical -1.5
wary -1.3
worse -2.2
worst -3
hassle -1.8
headache -2
bother -1.5
bothering -2
annoyance -2
complaint -1.8
complaints -1.8
angry -3
disaster -3
chaos -2.2
manual -0.6
error -1.2
errors -1.4
mistakes -1.4
churn -1.8
outage -2
outages -2
bug -1.4
bugs -1.6
crash -2
crashing -2
stuck -1.5
tired -1.5
late -0.8
delay -1.2
delays -1.4
expensive -1.6
no -0.3
# --- sales idiom (multi-word)
no brainer 2.6
game changer 3
deal breaker -2.8
dealbreaker -2.8
sounds good 2
sounds great 2.6
sounds interesting 1.8
makes sense 1.2
make sense 1
on the fence -0.8
waste of time -3
leave me alone -3
take me off -2
no thanks -1.5
no thank you -1.5
hard pass -2.5
worth it 1.5
sold on 1.5
big fan 2
looking forward 2
blown away 3
fed up -2.5
over budget -1.5
out of budget -1.5
sticking point -1.8
red flag -2.2
red flags -2.2
pain point -1.8
pain points -1.8
works for me 1.5
that works 1.2
not bad 1.2
not a problem 0.8
no problem 0.8
no worries 0.8
of course 0.6
fair enough 0.6
not interested -2
not a fit -1.5
not for us -1.8
cold call -0.8
kidding me -2
out of business -2
falls through the cracks -2
fall through the cracks -2
behind schedule -1.6
ahead of schedule 1.6
on track 1.2
# --- boosters and dampeners
+very 0.3
+really 0.3
+extremely 0.45
+super 0.3
+so 0.2
+incredibly 0.45
+totally 0.3
+too 0.3
+quite 0.15
+truly 0.3
+especially 0.2
+hugely 0.4
+highly 0.3
+most 0.2
+slightly -0.3
+somewhat -0.2
+barely -0.4
+kinda -0.2
+fairly -0.15
+little -0.2
+bit -0.2
# --- negators
!not
!never
!none
!nothing
!neither
!nor
!without
!hardly
!nobody
!cannot
!isnt
# --- contrast
~but
~however
~although
~though
~except
